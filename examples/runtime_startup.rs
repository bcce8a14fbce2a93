//! The one call a workspace runtime makes, early at start-up.
//!
//! Run it against a scratch home: `cargo run --example runtime_startup -- /tmp/some-home`
//! (without an argument it installs into `$HOME`). It starts a refresh
//! daemon and writes git config in that home; clean up afterwards with
//! `cargo run -- uninstall --home /tmp/some-home && rm -rf /tmp/some-home`.

use molecule_credential_helper::{install_credential_helper, install_credential_helper_in};

fn main() {
    let report = match std::env::args_os().nth(1) {
        Some(home) => install_credential_helper_in(std::path::Path::new(&home)),
        None => install_credential_helper(),
    };
    // Fail-soft: the runtime logs the report and carries on either way.
    print!("{report}");
}
