//! The helper's reply reader on the worst shapes a platform (or anything
//! answering at its address) can send within the 64 KiB cap: the target is
//! under 0.3 s for every shape on a 2-core machine (docs/performance.md).
//!
//! Runs `read_reply_json` cut out of the embedded helper, in bash, on each
//! body: `cargo bench --bench reply`.

use std::process::Command;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use molecule_credential_helper::scripts::{contents, HELPER_SCRIPT};

const CAP: usize = 64 * 1024 - 40;

/// The reader and what it needs, cut out of the embedded helper.
fn reader_source() -> String {
    let script = String::from_utf8_lossy(contents(HELPER_SCRIPT)).into_owned();
    let start = script
        .find("readonly JSON_MAX_MARKS")
        .expect("the reader's bound");
    let body = &script[start..];
    let end = body
        .find("\nread_reply_json() {")
        .and_then(|f| body[f..].find("\n}\n").map(|e| f + e + 3))
        .expect("read_reply_json");
    format!(
        "LC_ALL=C\nprintable() {{ REPLY=${{1//[[:cntrl:]]/}}; }}\n{}\nread_reply_json \"$(cat \"$1\")\"\n",
        &body[..end]
    )
}

fn shapes() -> Vec<(&'static str, String)> {
    let token = "ghs_".to_string() + &"a".repeat(516);
    let usual = format!(r#"{{"token":"{token}","expires_at":"2026-11-26T21:00:00Z"}}"#);
    let fit = |s: String| s.chars().take(CAP).collect::<String>();
    vec![
        ("usual_reply", usual),
        (
            "backslashes",
            fit(format!(r#"{{"a":"{}x\""#, "\\".repeat(CAP))),
        ),
        (
            "empty_strings",
            fit(format!(r#"{{"a":[{}""]}}"#, "\"\",".repeat(CAP / 3))),
        ),
        (
            "numbers",
            fit(format!(r#"{{"a":[{}1]}}"#, "1,".repeat(CAP / 2))),
        ),
        (
            "one_long_string",
            fit(format!(r#"{{"token":"{}"}}"#, "a".repeat(CAP))),
        ),
        (
            "long_string_then_backslashes",
            fit(format!(
                r#"{{"a":"{}{}"}}"#,
                "a".repeat(CAP - 600),
                "\\\\".repeat(250)
            )),
        ),
        (
            "numbers_with_spaces",
            fit(format!(r#"{{"a":[{}]}}"#, "1 ".repeat(CAP / 2))),
        ),
        (
            "whitespace_between",
            fit(format!(r#"{{"a":{}1}}"#, "\n".repeat(CAP))),
        ),
        // A review's shape: lines of one blank each (a step apiece while
        // only newlines separated chunks: 0.6 s).
        (
            "blank_lines",
            format!(
                r#"{{"token":"{token}","a":1{}}}"#,
                " \n".repeat((CAP - 600) / 2)
            ),
        ),
        (
            "cr_lf_lines",
            format!(
                r#"{{"token":"{token}","a":1{}}}"#,
                "\r\n".repeat((CAP - 600) / 2)
            ),
        ),
        (
            "unterminated_string",
            fit(format!(r#"{{"token":"{}"#, "a".repeat(CAP))),
        ),
        (
            "marks_at_the_bound",
            format!(r#"{{"a":[{}1],"token":"{token}"}}"#, "1,".repeat(250)),
        ),
    ]
}

fn reply(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let reader = dir.path().join("reader.sh");
    std::fs::write(&reader, reader_source()).unwrap();
    let mut group = c.benchmark_group("reply_reader");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(3));
    for (name, body) in shapes() {
        let file = dir.path().join(name);
        std::fs::write(&file, &body).unwrap();
        group.bench_function(name, |b| {
            b.iter(|| {
                let out = Command::new("bash")
                    .arg(&reader)
                    .arg(&file)
                    .output()
                    .unwrap();
                assert!(
                    out.stderr.is_empty(),
                    "{name}: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
            })
        });
    }
    group.finish();
}

criterion_group!(benches, reply);
criterion_main!(benches);
