//! `<service> vars`: every service binary lists the variables it reads (the platform's, then
//! its own), which is what `deploy/check` checks the manifests against. It needs no
//! configuration, so the check can ask a freshly built binary.

use system_tests::{SERVICES, binary};

#[test]
fn every_service_lists_the_platform_variables_and_its_own() {
    for name in SERVICES {
        let output = std::process::Command::new(binary(name))
            .arg("vars")
            .env_clear()
            .output()
            .expect("running the service");
        assert!(output.status.success(), "{name} vars: {output:?}");
        let text = String::from_utf8(output.stdout).expect("UTF-8");
        let lines: Vec<(&str, &str)> = text
            .lines()
            .map(|line| line.split_once('\t').expect("OWNER<TAB>NAME"))
            .collect();
        let platform: Vec<&str> = lines
            .iter()
            .filter(|(owner, _)| *owner == "platform")
            .map(|(_, var)| *var)
            .collect();
        assert_eq!(platform, platform::config::vars::ALL, "{name}");
        let (first, own) = lines.split_at(platform.len());
        assert!(
            first.iter().all(|(owner, _)| *owner == "platform"),
            "{name}: platform's first"
        );
        for (owner, var) in own {
            assert_eq!(*owner, name, "{name} lists {var} under {owner}");
            assert!(
                !platform::config::vars::ALL.contains(var),
                "{name} declares the platform's {var} as its own"
            );
            assert!(
                var.chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_'),
                "{name}: {var:?} is not an environment variable name"
            );
        }
    }
    let census = std::process::Command::new(binary("census"))
        .arg("vars")
        .output()
        .expect("running census");
    let census = String::from_utf8_lossy(&census.stdout);
    assert!(
        census.contains("census\tCENSUS_RD_REVENUE_FACTOR\n"),
        "{census}"
    );
}
