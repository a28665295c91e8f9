//! Protobuf contracts of the Haicheng industry platform, as Rust types.
//!
//! The `.proto` files under `proto/haicheng/` are the contract; this crate compiles them at
//! build time with a pure-Rust compiler (protox, no system `protoc`) into prost messages and
//! tonic clients and servers. One module per package `haicheng.<area>.v1`:
//!
//! - [`common::v1`]: parks, segments, departments, classes, figure sources, periods;
//! - [`census::v1`]: `CensusService` and the census events;
//! - [`classification::v1`]: `ClassificationService` and `EnterpriseClassified`;
//! - [`policy::v1`]: `NoticeService` and `SupportPolicyNotice`;
//! - [`land::v1`]: `LandService` and the land events;
//! - [`fair::v1`]: `FairService` and the trade-fair events;
//! - [`support::v1`]: `SupportService` and the support-policy events;
//! - [`inspection::v1`]: `InspectionService` and the inspection events;
//! - [`audit::v1`]: `AuditService`, served by every service through the platform.
//!
//! Every message implements [`prost::Name`]; its `full_name()` (for example
//! `haicheng.census.v1.CensusReturnSubmitted`) is the CloudEvents `ce_type` of the event.
//! Every message also implements `serde::Serialize`, with the field names of the protobuf
//! JSON mapping (the choices are in [`json`]'s module doc), and every enumeration
//! [`ProtoEnum`]. [`FILE_DESCRIPTOR_SET`] holds the encoded descriptors for gRPC reflection.

pub mod json;
pub mod topics;

/// A prost enumeration by its protobuf value names. Each value name starts with the enum's
/// prefix (`PARK_`), and 0 is `…_UNSPECIFIED`. Implemented by `build.rs` for every
/// enumeration of ours.
pub trait ProtoEnum: Copy + Send + Sync + 'static {
    /// The prefix every value name carries (`PARK_`).
    const PREFIX: &'static str;
    /// The value of a number; `None` for a number this build does not know.
    fn from_value(value: i32) -> Option<Self>;
    /// The full value name (`PARK_XILIU`).
    fn proto_name(self) -> &'static str;
    /// The value of a full value name.
    fn from_proto_name(name: &str) -> Option<Self>;
    /// The number.
    fn value(self) -> i32;
}

include!(concat!(env!("OUT_DIR"), "/proto_enums.rs"));

/// Types shared by every area (`haicheng.common.v1`).
pub mod common {
    /// Version 1.
    #[allow(clippy::all, clippy::pedantic, missing_docs)]
    pub mod v1 {
        include!(concat!(env!("OUT_DIR"), "/haicheng.common.v1.rs"));
    }
}

/// The industry census, "one enterprise, one file" (`haicheng.census.v1`).
pub mod census {
    /// Version 1.
    #[allow(clippy::all, clippy::pedantic, missing_docs)]
    pub mod v1 {
        include!(concat!(env!("OUT_DIR"), "/haicheng.census.v1.rs"));
    }
}

/// Classification into leader, growth and rectification classes (`haicheng.classification.v1`).
pub mod classification {
    /// Version 1.
    #[allow(clippy::all, clippy::pedantic, missing_docs)]
    pub mod v1 {
        include!(concat!(env!("OUT_DIR"), "/haicheng.classification.v1.rs"));
    }
}

/// Support-policy notices to departments (`haicheng.policy.v1`).
pub mod policy {
    /// Version 1.
    #[allow(clippy::all, clippy::pedantic, missing_docs)]
    pub mod v1 {
        include!(concat!(env!("OUT_DIR"), "/haicheng.policy.v1.rs"));
    }
}

/// Support policies, rounds and payment orders (`haicheng.support.v1`).
pub mod support {
    /// Version 1.
    #[allow(clippy::all, clippy::pedantic, missing_docs)]
    pub mod v1 {
        include!(concat!(env!("OUT_DIR"), "/haicheng.support.v1.rs"));
    }
}

/// Administrative inspections of enterprises: items, risk tiers, plans, joint visits, codes
/// and ratings (`haicheng.inspection.v1`).
pub mod inspection {
    /// Version 1.
    #[allow(clippy::all, clippy::pedantic, missing_docs)]
    pub mod v1 {
        include!(concat!(env!("OUT_DIR"), "/haicheng.inspection.v1.rs"));
    }
}

/// Land parcels, grants, commitments, building units and applications (`haicheng.land.v1`).
pub mod land {
    /// Version 1.
    #[allow(clippy::all, clippy::pedantic, missing_docs)]
    pub mod v1 {
        include!(concat!(env!("OUT_DIR"), "/haicheng.land.v1.rs"));
    }
}

/// Trade fairs: invitations, registrations, outcomes (`haicheng.fair.v1`).
pub mod fair {
    /// Version 1.
    #[allow(clippy::all, clippy::pedantic, missing_docs)]
    pub mod v1 {
        include!(concat!(env!("OUT_DIR"), "/haicheng.fair.v1.rs"));
    }
}

/// The audit log every service keeps (`haicheng.audit.v1`).
pub mod audit {
    /// Version 1.
    #[allow(clippy::all, clippy::pedantic, missing_docs)]
    pub mod v1 {
        include!(concat!(env!("OUT_DIR"), "/haicheng.audit.v1.rs"));
    }
}

/// The encoded `google.protobuf.FileDescriptorSet` of every contract (with its imports and
/// comments), for gRPC server reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/haicheng_descriptor.bin"));

#[cfg(test)]
mod tests {
    use super::*;
    use prost::{Message, Name};

    #[test]
    fn event_messages_carry_their_full_name() {
        assert_eq!(
            census::v1::CensusReturnSubmitted::full_name(),
            "haicheng.census.v1.CensusReturnSubmitted"
        );
        assert_eq!(
            classification::v1::EnterpriseClassified::full_name(),
            "haicheng.classification.v1.EnterpriseClassified"
        );
        assert_eq!(
            policy::v1::SupportPolicyNotice::full_name(),
            "haicheng.policy.v1.SupportPolicyNotice"
        );
        assert_eq!(
            land::v1::ParcelGranted::full_name(),
            "haicheng.land.v1.ParcelGranted"
        );
        assert_eq!(
            fair::v1::OutcomeRecorded::full_name(),
            "haicheng.fair.v1.OutcomeRecorded"
        );
        assert_eq!(
            census::v1::CensusReturnSubmitted::type_url(),
            "/haicheng.census.v1.CensusReturnSubmitted"
        );
    }

    #[test]
    fn descriptor_set_decodes_and_holds_every_contract() {
        let fds = prost_types::FileDescriptorSet::decode(FILE_DESCRIPTOR_SET).expect("decodes");
        let names: Vec<&str> = fds.file.iter().map(|f| f.name()).collect();
        for expected in [
            "haicheng/common/v1/common.proto",
            "haicheng/census/v1/census.proto",
            "haicheng/census/v1/events.proto",
            "haicheng/classification/v1/classification.proto",
            "haicheng/classification/v1/events.proto",
            "haicheng/policy/v1/notices.proto",
            "haicheng/land/v1/land.proto",
            "haicheng/land/v1/events.proto",
            "haicheng/fair/v1/fair.proto",
            "haicheng/fair/v1/events.proto",
            "haicheng/inspection/v1/inspection.proto",
            "haicheng/inspection/v1/events.proto",
            "google/protobuf/timestamp.proto",
        ] {
            assert!(
                names.contains(&expected),
                "{expected} missing from {names:?}"
            );
        }
        let services: Vec<String> = fds
            .file
            .iter()
            .flat_map(|f| {
                f.service
                    .iter()
                    .map(move |s| format!("{}.{}", f.package(), s.name()))
            })
            .collect();
        for expected in [
            "haicheng.census.v1.CensusService",
            "haicheng.classification.v1.ClassificationService",
            "haicheng.policy.v1.NoticeService",
            "haicheng.land.v1.LandService",
            "haicheng.fair.v1.FairService",
            "haicheng.inspection.v1.InspectionService",
        ] {
            assert!(services.iter().any(|s| s == expected), "{expected} missing");
        }
    }

    /// Every enum's zero value is `<ENUM_NAME>_UNSPECIFIED`, as the style requires.
    #[test]
    fn every_enum_starts_with_its_unspecified_value() {
        let fds = prost_types::FileDescriptorSet::decode(FILE_DESCRIPTOR_SET).expect("decodes");
        for file in fds
            .file
            .iter()
            .filter(|f| f.package().starts_with("haicheng."))
        {
            for e in &file.enum_type {
                let zero = &e.value[0];
                assert_eq!(zero.number(), 0);
                assert!(
                    zero.name().ends_with("_UNSPECIFIED"),
                    "{}: {}",
                    e.name(),
                    zero.name()
                );
            }
        }
    }

    #[test]
    fn a_census_event_round_trips() {
        let event = census::v1::CensusReturnSubmitted {
            uscc: "91210381MA0Q12343L".into(),
            period: Some(common::v1::Period {
                code: "2025Q3".into(),
            }),
            revision: 2,
            indicators: Some(census::v1::CensusIndicators {
                employees_total: 120,
                tax_paid_fen: 1_234_500,
                energy_use_tce: Some(3.5),
                ..Default::default()
            }),
            park: common::v1::Park::Nantai as i32,
            segment: common::v1::Segment::LuggageLeather as i32,
            ..Default::default()
        };
        let bytes = event.encode_to_vec();
        let back = census::v1::CensusReturnSubmitted::decode(bytes.as_slice()).expect("decodes");
        assert_eq!(back, event);
        assert_eq!(back.park(), common::v1::Park::Nantai);
        assert_eq!(
            common::v1::EnterpriseClass::A.as_str_name(),
            "ENTERPRISE_CLASS_A"
        );
    }
}
