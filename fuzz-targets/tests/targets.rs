//! Every fuzz target, stable and bounded (`make test`): its committed corpus and regressions
//! replayed, then inputs generated from a fixed seed: mutations of the corpus and, for the
//! request targets, messages built from the contract's descriptors. A panic fails the test
//! and names the input (hex), which then goes to `fuzz/regressions/<target>/`.

use std::{
    panic::{AssertUnwindSafe, catch_unwind},
    path::{Path, PathBuf},
};

use fuzz_targets::{
    Target,
    generate::{Messages, Rng, mutate},
    requests,
};

/// Generated inputs per target (the corpus and regressions come on top); `FUZZ_GENERATED`
/// sets another number (scripts/fuzz without a nightly toolchain).
fn generated() -> usize {
    std::env::var("FUZZ_GENERATED")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(20_000)
}

fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The committed files of `fuzz/<kind>/<target>/`, sorted (none when the folder is missing):
/// of the corpus the `seed-*` files only, not what libFuzzer added beside them.
fn files(kind: &str, target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = repository().join("fuzz").join(kind).join(target);
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map(|entries| entries.filter_map(|e| Some(e.ok()?.path())).collect())
        .unwrap_or_default();
    paths.sort();
    paths
        .into_iter()
        .filter(|p| p.is_file())
        .filter(|p| {
            kind != "corpus"
                || p.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with("seed-"))
        })
        .map(|p| {
            let bytes = std::fs::read(&p).expect("a corpus file reads");
            (p, bytes)
        })
        .collect()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Runs `target` on `input`; a panic fails the test with the input.
fn run(name: &str, target: Target, input: &[u8], origin: &str) {
    if catch_unwind(AssertUnwindSafe(|| target(input))).is_err() {
        panic!("{name} panicked on {origin}: {}", hex(input));
    }
}

/// The request messages of a request target, by selector byte.
fn request_names(name: &str) -> Vec<String> {
    match name {
        "census_requests" => requests::census::request_names(),
        "classification_requests" => requests::classification::request_names(),
        "land_parcel_requests" => requests::land_parcel::request_names(),
        "trade_fair_requests" => requests::trade_fair::request_names(),
        "support_requests" => requests::support::request_names(),
        "inspection_requests" => requests::inspection::request_names(),
        _ => Vec::new(),
    }
}

fn fuzz(name: &str) {
    let target = fuzz_targets::target(name).expect("a target of that name");
    let corpus = files("corpus", name);
    let regressions = files("regressions", name);
    for (path, input) in corpus.iter().chain(&regressions) {
        run(name, target, input, &path.display().to_string());
    }
    let names = request_names(name);
    let messages = Messages::new();
    let mut rng = Rng::new(0x4861_6963_6865_6e67); // "Haicheng"
    let generated = generated();
    for i in 0..generated {
        let input = if !names.is_empty() && i % 2 == 0 {
            let which = rng.below(names.len());
            let mut input = vec![which as u8];
            input.extend(messages.encoded(&names[which], &mut rng));
            if rng.chance(4) {
                mutate(&input, &mut rng)
            } else {
                input
            }
        } else if corpus.is_empty() {
            mutate(&[], &mut rng)
        } else {
            mutate(&rng.pick(&corpus).1, &mut rng)
        };
        run(name, target, &input, &format!("generated input {i}"));
    }
    let replayed = corpus.len() + regressions.len();
    eprintln!("{name}: {} inputs, 0 findings", replayed + generated);
}

macro_rules! fuzz_tests {
    ($($name:ident),+ $(,)?) => {
        $(
            #[test]
            fn $name() {
                fuzz(stringify!($name));
            }
        )+

        #[test]
        fn every_target_has_a_test_and_a_seed_corpus() {
            let tested = [$(stringify!($name)),+];
            for (name, _) in fuzz_targets::TARGETS {
                assert!(tested.contains(name), "{name} has no test here");
                assert!(!files("corpus", name).is_empty(), "{name} has no seed corpus");
                let libfuzzer = repository().join("fuzz/fuzz_targets").join(format!("{name}.rs"));
                assert!(libfuzzer.is_file(), "{} is missing", libfuzzer.display());
            }
        }
    };
}

fuzz_tests! {
    census_requests,
    classification_requests,
    land_parcel_requests,
    trade_fair_requests,
    support_requests,
    inspection_requests,
    census_csv,
    return_file,
    period,
    uscc,
    retention_span,
    auth_tokens,
    page_tokens,
    cloudevents,
    consumer_payloads,
}

#[test]
fn every_request_name_is_a_message_of_the_contract() {
    let messages = Messages::new();
    for (name, _) in fuzz_targets::TARGETS {
        for message in request_names(name) {
            assert!(
                messages.contains(&message),
                "{message} is not in the descriptors"
            );
        }
    }
}
