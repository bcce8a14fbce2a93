//! The docs tell the truth about the things a machine can check: the CLI's
//! `--help` lists exactly the variables of docs/contract.md's table, and
//! every relative link in README.md and docs/*.md reaches a file (and, with
//! a `#anchor`, a heading in it).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_molecule-credential-helper");

/// Variables a parallel branch (proxies and the platform's CA) adds to the
/// contract's table and to `--help`. Until it lands, each may be on one side
/// without the other. Empty this list once that branch is merged.
const PENDING_FROM_THE_PROXY_BRANCH: &[&str] = &[];

/// The commands whose help carries the environment list: the top level, and
/// every command that runs the helper or judges its settings.
const HELP_WITH_THE_LIST: [&[&str]; 5] = [
    &["--help"],
    &["install", "--help"],
    &["status", "--help"],
    &["repair", "--help"],
    &["token", "--help"],
];

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// `NAME` is a whole variable name: `_MAX_SEC` (short for the name before
/// it) is not, and the tests refuse it rather than guess.
fn whole_name(name: &str, whence: &str) -> String {
    let ok = name.starts_with(|c: char| c.is_ascii_uppercase())
        && name
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
    assert!(
        ok,
        "{whence}: {name:?} is not a whole variable name (write each variable out in full)"
    );
    name.to_string()
}

/// The variables of docs/contract.md's table (the one whose header starts
/// `| variable |`): every backquoted name in each row's first cell.
fn contract_table_variables() -> BTreeSet<String> {
    let text = read(&repo().join("docs/contract.md"));
    let mut lines = text.lines().skip_while(|l| !l.starts_with("| variable |"));
    assert!(
        lines.next().is_some(),
        "docs/contract.md has no `| variable |` table"
    );
    let mut names = BTreeSet::new();
    for row in lines
        .skip(1) // the |---| line
        .take_while(|l| l.starts_with('|'))
    {
        let first_cell = row.trim_start_matches('|').split('|').next().unwrap_or("");
        for (i, span) in first_cell.split('`').enumerate() {
            if i % 2 == 1 {
                names.insert(whole_name(span, "docs/contract.md's table"));
            }
        }
    }
    assert!(
        names.len() > 10,
        "docs/contract.md's table parsed to only {names:?}"
    );
    names
}

/// `molecule-credential-helper ARGS` (a `--help`): its stdout.
fn help(args: &[&str]) -> String {
    let out = Command::new(BIN).args(args).output().unwrap();
    assert!(out.status.success(), "{args:?}: {out:?}");
    String::from_utf8(out.stdout).unwrap()
}

/// The variables a help's `Environment (all optional):` list names: each
/// entry line is two spaces, the name(s) (`GH_TOKEN, GITHUB_TOKEN`), two
/// or more spaces, the meaning; deeper-indented lines continue a meaning.
fn help_variables(args: &[&str]) -> BTreeSet<String> {
    let text = help(args);
    let whence = format!("`{}`", args.join(" "));
    let mut lines = text
        .lines()
        .skip_while(|l| l.trim_end() != "Environment (all optional):");
    assert!(
        lines.next().is_some(),
        "{whence} has no `Environment (all optional):` list:\n{text}"
    );
    let mut names = BTreeSet::new();
    for line in lines.take_while(|l| l.starts_with("  ")) {
        let Some(entry) = line.strip_prefix("  ").filter(|e| !e.starts_with(' ')) else {
            continue; // a meaning's continuation
        };
        let column = entry.split("  ").next().unwrap_or(entry);
        for name in column.split(',') {
            names.insert(whole_name(name.trim(), &whence));
        }
    }
    assert!(names.len() > 10, "{whence} lists only {names:?}");
    names
}

fn pending(name: &str) -> bool {
    PENDING_FROM_THE_PROXY_BRANCH.contains(&name)
}

#[test]
fn the_help_lists_every_variable_of_the_contracts_table() {
    let table = contract_table_variables();
    for args in HELP_WITH_THE_LIST {
        let listed = help_variables(args);
        let missing: Vec<&String> = table
            .iter()
            .filter(|v| !listed.contains(*v) && !pending(v))
            .collect();
        assert!(
            missing.is_empty(),
            "`{}` does not list {missing:?}, which docs/contract.md's table has (src/cli/mod.rs, ENV_HELP)",
            args.join(" ")
        );
    }
}

#[test]
fn every_variable_the_help_lists_is_in_the_contracts_table() {
    let table = contract_table_variables();
    for args in HELP_WITH_THE_LIST {
        let extra: Vec<String> = help_variables(args)
            .into_iter()
            .filter(|v| !table.contains(v) && !pending(v))
            .collect();
        assert!(
            extra.is_empty(),
            "`{}` lists {extra:?}, which docs/contract.md's table does not have",
            args.join(" ")
        );
    }
}

/// The commands without the list still name the served GitHub's variable,
/// which they read.
#[test]
fn uninstall_and_contract_name_github_server_url_in_their_help() {
    for command in ["uninstall", "contract"] {
        let text = help(&[command, "--help"]);
        assert!(text.contains("GITHUB_SERVER_URL"), "{command}:\n{text}");
    }
}

// --- links ---------------------------------------------------------------------

/// GitHub's anchor for a heading: lower-cased, each space a `-`, every
/// character but letters, digits, `-` and `_` dropped; a repeated anchor
/// gets `-1`, `-2`, … in order.
fn slug(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

/// A heading's text as GitHub renders it for the anchor: `[text](url)`
/// becomes `text` (the rest, backquotes and emphasis, `slug` drops).
fn heading_text(raw: &str) -> String {
    let mut out = String::new();
    let mut rest = raw;
    while let Some(open) = rest.find('[') {
        let Some(close) = rest[open..].find("](").map(|i| open + i) else {
            break;
        };
        let Some(end) = rest[close..].find(')').map(|i| close + i) else {
            break;
        };
        out.push_str(&rest[..open]);
        out.push_str(&rest[open + 1..close]);
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    out
}

/// Whether `line` opens or closes a fenced code block.
fn is_fence(line: &str) -> bool {
    let t = line.trim_start();
    t.starts_with("```") || t.starts_with("~~~")
}

/// The anchors of a markdown file's headings (ATX, outside code blocks).
fn anchors(text: &str) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    let mut in_fence = false;
    for line in text.lines() {
        if is_fence(line) {
            in_fence = !in_fence;
            continue;
        }
        let hashes = line.chars().take_while(|&c| c == '#').count();
        if in_fence || !(1..=6).contains(&hashes) || !line[hashes..].starts_with(' ') {
            continue;
        }
        let base = slug(&heading_text(line[hashes..].trim_end_matches('#')));
        let mut anchor = base.clone();
        let mut n = 0;
        while seen.contains(&anchor) {
            n += 1;
            anchor = format!("{base}-{n}");
        }
        seen.insert(anchor);
    }
    seen
}

/// Every link target in a markdown file with its line number: `[text](t)`
/// and `![alt](t)`, outside fenced blocks and inline code, in one pass.
/// A code span may run over lines; a blank line ends it (and its paragraph).
fn link_targets(text: &str) -> Vec<(usize, String)> {
    let mut targets = Vec::new();
    let mut in_fence = false;
    let mut code_span = 0; // the backquote run that opened the span, or 0
    for (n, line) in text.lines().enumerate() {
        if code_span == 0 && is_fence(line) {
            in_fence = !in_fence;
            continue;
        }
        if in_fence {
            continue;
        }
        if line.trim().is_empty() {
            code_span = 0;
            continue;
        }
        let bytes = line.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == b'`' {
                let run = bytes[i..].iter().take_while(|&&b| b == b'`').count();
                if code_span == 0 {
                    code_span = run;
                } else if code_span == run {
                    code_span = 0;
                }
                i += run;
                continue;
            }
            if code_span == 0 && bytes[i] == b']' && bytes.get(i + 1) == Some(&b'(') {
                let start = i + 2;
                let mut depth = 1;
                let mut end = start;
                while end < bytes.len() {
                    match bytes[end] {
                        b'(' => depth += 1,
                        b')' => {
                            depth -= 1;
                            if depth == 0 {
                                break;
                            }
                        }
                        _ => {}
                    }
                    end += 1;
                }
                // The target is the first word (a title may follow it).
                let inside = &line[start..end];
                let target = inside.split_whitespace().next().unwrap_or("");
                let target = target.trim_start_matches('<').trim_end_matches('>');
                targets.push((n + 1, target.to_string()));
                i = end;
                continue;
            }
            i += 1;
        }
    }
    targets
}

/// README.md and every docs/*.md.
fn markdown_files() -> Vec<PathBuf> {
    let mut files = vec![repo().join("README.md")];
    let mut docs: Vec<PathBuf> = std::fs::read_dir(repo().join("docs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    docs.sort();
    files.extend(docs);
    files
}

/// What is wrong with one link of `file`, if anything.
fn broken(file: &Path, target: &str) -> Option<String> {
    let external = ["http://", "https://", "mailto:"];
    if external.iter().any(|s| target.starts_with(s)) {
        return None;
    }
    if target.is_empty() {
        return Some("an empty target".into());
    }
    let (path, anchor) = match target.split_once('#') {
        Some((path, anchor)) => (path, Some(anchor)),
        None => (target, None),
    };
    let resolved = if path.is_empty() {
        file.to_path_buf()
    } else {
        file.parent().unwrap().join(path)
    };
    if !resolved.exists() {
        return Some(format!("{} does not exist", resolved.display()));
    }
    let anchor = anchor?;
    if resolved.extension().is_none_or(|e| e != "md") {
        return Some(format!(
            "an anchor into {}, which is not markdown",
            resolved.display()
        ));
    }
    let found = anchors(&read(&resolved));
    (!found.contains(anchor)).then(|| {
        format!(
            "{} has no heading whose anchor is #{anchor} (it has: {})",
            resolved.display(),
            found.into_iter().collect::<Vec<_>>().join(", ")
        )
    })
}

#[test]
fn every_relative_link_in_the_docs_resolves() {
    let mut problems = Vec::new();
    let mut relative = 0;
    for file in markdown_files() {
        for (line, target) in link_targets(&read(&file)) {
            if !target.starts_with("http") && !target.starts_with("mailto:") {
                relative += 1;
            }
            if let Some(why) = broken(&file, &target) {
                let shown = file.strip_prefix(repo()).unwrap_or(&file).display();
                problems.push(format!("{shown}:{line}: ({target}) {why}"));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "broken links:\n{}",
        problems.join("\n")
    );
    // The parser found the links it is meant to check.
    assert!(relative > 10, "only {relative} relative links found");
}

#[test]
fn the_anchor_rule_is_githubs() {
    for (heading, anchor) in [
        ("What a token is", "what-a-token-is"),
        ("The `testing` feature", "the-testing-feature"),
        (
            "Features, and what each pulls in",
            "features-and-what-each-pulls-in",
        ),
        (
            "What is trusted on disk (round 3)",
            "what-is-trusted-on-disk-round-3",
        ),
        (
            "Which supervisor is ours: a lock, not a PID or an argv",
            "which-supervisor-is-ours-a-lock-not-a-pid-or-an-argv",
        ),
        (
            "Tokens in clone URLs: repair",
            "tokens-in-clone-urls-repair",
        ),
        ("snake_case and-dash", "snake_case-and-dash"),
        ("[linked](x.md) text", "linked-text"),
    ] {
        assert_eq!(slug(&heading_text(heading)), anchor, "{heading}");
    }
    let repeated = anchors("# A\n## A\n```\n# A\n```\n### A\n");
    let expected: BTreeSet<String> = ["a", "a-1", "a-2"].map(String::from).into();
    assert_eq!(repeated, expected);
}

#[test]
fn links_in_code_are_not_links() {
    let text = "[a](x.md) `[b](y.md)` and ``[c](`z`)``\n```\n[d](w.md)\n```\n`a span\nover lines [e](v.md)` [f](u.md#h \"title\")\n";
    let found: Vec<String> = link_targets(text).into_iter().map(|(_, t)| t).collect();
    assert_eq!(found, ["x.md", "u.md#h"]);
}
