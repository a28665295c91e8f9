//! Quotas on small and odd cohorts, with equal scores straddling every class boundary.

use std::collections::HashMap;

use classification::domain::Quotas;
use haicheng_proto::common::v1::EnterpriseClass;

use crate::spawn_app;

/// The class each position should get: the first `a` A, the next `b` B, the rest C.
fn expected(position: usize, a: usize, b: usize) -> EnterpriseClass {
    if position < a {
        EnterpriseClass::A
    } else if position < a + b {
        EnterpriseClass::B
    } else {
        EnterpriseClass::C
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn quotas_hold_on_cohorts_of_1_2_9_10_11_and_100_with_ties_at_each_boundary() {
    let app = spawn_app().await;
    // One period per cohort; firm i of a cohort has the i-th code, so codes sort by i.
    let cohorts = [
        (1usize, "2031"),
        (2, "2032"),
        (9, "2033"),
        (10, "2034"),
        (11, "2035"),
        (100, "2036"),
    ];
    let mut next = 0;
    let mut members: Vec<Vec<String>> = Vec::new();
    for (n, period) in cohorts {
        let counts = Quotas::default().counts(n);
        // Tax per mu falls with position, except that the firm just below each boundary
        // equals the one just above it: their scores tie and the USCC decides.
        let mut tax: Vec<i64> = (0..n).map(|i| 2_000 - 10 * i as i64).collect();
        for boundary in [counts.a, counts.a + counts.b] {
            if boundary > 0 && boundary < n {
                tax[boundary] = tax[boundary - 1];
            }
        }
        let codes: Vec<String> = (0..n).map(|i| app.uscc(next + i)).collect();
        next += n;
        for (code, tax) in codes.iter().zip(&tax) {
            app.submit(code, period, 1, *tax).await;
        }
        members.push(codes);
    }

    for ((n, period), codes) in cohorts.iter().zip(&members) {
        app.settled(period, *n as i64, *n as i64).await;
        let counts = Quotas::default().counts(*n);
        let listed = app.list_all(period, 7).await;
        assert_eq!(listed.len(), *n, "cohort of {n}: every firm listed once");
        let by_code: HashMap<&str, _> = listed.iter().map(|c| (c.uscc.as_str(), c)).collect();
        let mut tally = [0usize; 3];
        for (position, code) in codes.iter().enumerate() {
            let class = by_code[code.as_str()];
            assert_eq!(
                class.enterprise_class(),
                expected(position, counts.a, counts.b),
                "cohort of {n}, position {position} ({code})"
            );
            assert_eq!(
                class.rank as usize,
                position + 1,
                "cohort of {n}: rank of {code}"
            );
            assert_eq!(class.cohort_size as usize, *n);
            tally[class.enterprise_class as usize - 1] += 1;
        }
        assert_eq!(tally, [counts.a, counts.b, counts.c], "cohort of {n}");
        assert_eq!(tally.iter().sum::<usize>(), *n);
        // The tied pairs really tie.
        for boundary in [counts.a, counts.a + counts.b] {
            if boundary > 0 && boundary < *n {
                let (above, below) = (
                    by_code[codes[boundary - 1].as_str()],
                    by_code[codes[boundary].as_str()],
                );
                assert_eq!(above.score, below.score, "cohort of {n}: tie at {boundary}");
                assert!(above.enterprise_class < below.enterprise_class);
            }
        }
    }
    let expected_counts: Vec<(usize, usize, usize)> = cohorts
        .iter()
        .map(|(n, _)| {
            let c = Quotas::default().counts(*n);
            (c.a, c.b, c.c)
        })
        .collect();
    assert_eq!(
        expected_counts,
        [
            (0, 0, 1),
            (0, 1, 1),
            (1, 3, 5),
            (1, 3, 6),
            (1, 3, 7),
            (10, 30, 60)
        ]
    );
    app.stop().await;
}
