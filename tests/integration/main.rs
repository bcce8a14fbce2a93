//! One integration-test binary; each module covers one capability.

mod support;

mod cli;
mod daemon;
mod deploy;
mod docs;
mod e2e;
mod e2e_enterprise;
mod enterprise;
mod fake_platform;
mod fleet;
mod helper;
mod http_client;
mod installer_mocks;
mod installer_props;
mod installer_real;
mod installer_table;
mod os_real;
mod outage;
mod proxy;
mod reliability;
mod repair;
mod settings;
mod startup;
mod todays_github;
mod token;
mod trust;
mod trust3;
mod trust4;
mod truth;
mod under_load;
