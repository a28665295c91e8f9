//! The fairs of the demo data set: the external fairs of the coming year and two local ones,
//! their registration windows open now, so the trade-fair service's sweep invites the demo's
//! class-A firms within seconds.

use haicheng_proto::fair::v1 as pb;

/// The demo fairs as of `now`: the external fairs of the coming year (CPM Moscow in February
/// and September, CHIC in March, the Canton Fair's third phase in May, the China Brand Fair
/// in Budapest in June) and two local fairs (fabric and accessories at Xiliu, garment
/// culture), each with its registration window open from a day ago until a month before it
/// starts (at most 60 days from now).
#[allow(
    clippy::too_many_lines,
    reason = "demo data: one table of fairs, read top to bottom"
)]
pub fn plans(now: chrono::DateTime<chrono::Utc>) -> Vec<pb::Fair> {
    use chrono::{Datelike, Duration, TimeZone, Utc};
    use pb::{AllocationMode::*, FairKind::*, Market::*};
    let year = now.year() + 1;
    let day = |month: u32, day: u32| {
        Utc.with_ymd_and_hms(year, month, day, 1, 0, 0)
            .single()
            .unwrap_or(now)
    };
    let booths = |standard: i32, standard_fee: i64, brand: i32, brand_fee: i64| {
        let mut inventory = vec![pb::BoothInventory {
            booth_type: pb::BoothType::Standard as i32,
            capacity: standard,
            fee_fen: standard_fee,
            taken: 0,
        }];
        if brand > 0 {
            inventory.push(pb::BoothInventory {
                booth_type: pb::BoothType::Brand as i32,
                capacity: brand,
                fee_fen: brand_fee,
                taken: 0,
            });
        }
        inventory
    };
    let plans = [
        (
            "CPM Moscow, spring",
            CpmMoscow,
            "Moscow",
            "Crocus Expo",
            Emerging,
            day(2, 24),
            4,
            Scored,
            booths(12, 3_500_000, 0, 0),
        ),
        (
            "CHIC China International Fashion Fair",
            Chic,
            "Shanghai",
            "National Exhibition and Convention Center",
            Domestic,
            day(3, 11),
            3,
            Scored,
            booths(20, 1_800_000, 4, 6_000_000),
        ),
        (
            "China Import and Export Fair, phase 3",
            CantonFair,
            "Guangzhou",
            "Pazhou complex",
            TraditionalExport,
            day(5, 1),
            5,
            Scored,
            booths(30, 2_000_000, 0, 0),
        ),
        (
            "China Brand Fair (CEE)",
            ChinaBrandFairBudapest,
            "Budapest",
            "Hungexpo",
            Emerging,
            day(6, 3),
            3,
            Scored,
            booths(10, 3_000_000, 0, 0),
        ),
        (
            "CPM Moscow, autumn",
            CpmMoscow,
            "Moscow",
            "Crocus Expo",
            Emerging,
            day(9, 1),
            4,
            Scored,
            booths(12, 3_500_000, 0, 0),
        ),
        (
            "Xiliu fabric and accessories fair",
            LocalFabricAccessories,
            "Haicheng",
            "Xiliu expo centre",
            Domestic,
            day(4, 18),
            3,
            FirstCome,
            booths(120, 600_000, 10, 2_000_000),
        ),
        (
            "Haicheng garment culture festival",
            LocalGarmentCulture,
            "Haicheng",
            "Haicheng culture square",
            Domestic,
            day(8, 8),
            4,
            FirstCome,
            booths(60, 300_000, 0, 0),
        ),
    ];
    plans
        .into_iter()
        .map(
            |(name, kind, city, venue, market, starts, days, mode, inventory)| {
                let closes = (starts - Duration::days(30)).min(now + Duration::days(60));
                pb::Fair {
                    name: name.into(),
                    kind: kind as i32,
                    city: city.into(),
                    venue: venue.into(),
                    market: market as i32,
                    starts_at: Some(platform::time::to_timestamp(starts)),
                    ends_at: Some(platform::time::to_timestamp(starts + Duration::days(days))),
                    registration_opens_at: Some(platform::time::to_timestamp(
                        now - Duration::days(1),
                    )),
                    registration_closes_at: Some(platform::time::to_timestamp(closes)),
                    allocation_mode: mode as i32,
                    inventory,
                    ..Default::default()
                }
            },
        )
        .collect()
}

#[cfg(test)]
mod tests {
    use prost_types::Timestamp;

    use super::*;

    #[test]
    fn demo_fairs_are_next_year_with_windows_open_now() {
        use chrono::{Datelike, TimeZone, Utc};
        let now = Utc.with_ymd_and_hms(2026, 12, 1, 12, 0, 0).unwrap();
        let plans = plans(now);
        assert_eq!(plans.len(), 7);
        assert_eq!(
            plans
                .iter()
                .filter(|p| p.kind() == pb::FairKind::CpmMoscow)
                .count(),
            2
        );
        for p in &plans {
            let at = |t: &Option<Timestamp>| {
                platform::time::from_timestamp(t.as_ref().unwrap()).unwrap()
            };
            assert_eq!(at(&p.starts_at).year(), 2027, "{}", p.name);
            assert!(
                at(&p.registration_opens_at) <= now && now < at(&p.registration_closes_at),
                "{}",
                p.name
            );
            assert!(
                at(&p.registration_closes_at) <= at(&p.starts_at),
                "{}",
                p.name
            );
        }
    }
}
