//! `haicheng token new`: a machine account's static token and its `AUTH_TOKENS` entry, so an
//! operator never makes one by hand. The token is printed once and kept nowhere; the entry
//! carries only its SHA-256 digest, so the Secret holding `AUTH_TOKENS` holds no usable token.

use std::process::ExitCode;

use clap::{Args, Subcommand};
use platform::auth::{TokenTable, new_static_token};
use serde_json::json;

use crate::output::Format;

#[derive(Subcommand)]
pub enum TokenCommand {
    /// A fresh token (32 random bytes, base64url) and its AUTH_TOKENS entry (by digest).
    New(NewArgs),
}

#[derive(Args)]
pub struct NewArgs {
    /// The machine account's name (`service:NAME`).
    #[arg(
        long,
        conflicts_with = "department",
        required_unless_present = "department"
    )]
    service: Option<String>,
    /// A department's machine account instead (`department:NAME`, e.g. finance).
    #[arg(long)]
    department: Option<String>,
    /// A scope the account holds (repeat, or separate with commas), e.g. census.write.
    #[arg(long = "scope", value_delimiter = ',')]
    scopes: Vec<String>,
}

pub fn run(command: TokenCommand, format: Format) -> ExitCode {
    let TokenCommand::New(args) = command;
    match new_entry(&args) {
        Ok((token, entry)) => {
            match format {
                Format::Json => println!("{}", json!({"token": token, "entry": entry})),
                Format::Table => {
                    println!("token  {token}");
                    println!("entry  {entry}");
                    eprintln!(
                        "Give the token to the account (it is shown once and kept nowhere); add \
                         the entry to AUTH_TOKENS (entries separated by ';')."
                    );
                }
            }
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::from(2)
        }
    }
}

/// The token and its entry, checked by the same parser the services use.
fn new_entry(args: &NewArgs) -> Result<(String, String), String> {
    let principal = match (&args.service, &args.department) {
        (Some(name), None) => format!("service:{name}"),
        (None, Some(name)) => format!("department:{name}"),
        _ => return Err("name either --service or --department".into()),
    };
    let scopes: Vec<&str> = args
        .scopes
        .iter()
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
        .collect();
    let (token, key) = new_static_token()?;
    let entry = format!("{key}={principal}:{}", scopes.join(","));
    TokenTable::parse(&entry)?;
    Ok((token, entry))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_entry_stands_for_the_token_and_holds_only_its_digest() {
        let args = NewArgs {
            service: Some("census-import".into()),
            department: None,
            scopes: vec!["census.write".into()],
        };
        let (token, entry) = new_entry(&args).unwrap();
        assert!(!entry.contains(&token));
        assert!(
            entry.ends_with("=service:census-import:census.write"),
            "{entry}"
        );
        let table = TokenTable::parse(&entry).unwrap();
        let principal = table.lookup(&token).unwrap();
        assert!(principal.has_scope("census.write"));

        let army = NewArgs {
            service: None,
            department: Some("army".into()),
            scopes: vec![],
        };
        assert!(new_entry(&army).unwrap_err().contains("department"));
    }
}
