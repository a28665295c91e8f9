//! Inputs for the stable run of the targets (`make test`) and the seed corpus: byte
//! mutations of a corpus file, and protobuf messages built from the contract's descriptors.
//!
//! Random bytes seldom decode into a request, and one that decodes is mostly empty strings
//! and zeros, which the first check refuses. [`Messages`] instead walks a message's
//! descriptor and writes every field with a value a check has to think about: a valid USCC
//! or period and their near misses, dates, uuids, the ends of the integer ranges, undefined
//! enumeration numbers, nested messages and repeated fields of a few items. A fixed seed
//! makes every run the same.

use prost::Message;
use prost_types::{
    DescriptorProto, FieldDescriptorProto, FileDescriptorSet,
    field_descriptor_proto::{Label, Type},
};

/// A small deterministic generator (SplitMix64): no dependency, the same on every machine.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number below `n` (`n` > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    pub fn chance(&mut self, one_in: usize) -> bool {
        self.below(one_in) == 0
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// Text a check reads: codes of every kind that are right, nearly right, or wrong.
const STRINGS: &[&str] = &[
    "",
    " ",
    "91210381MA0Q12343L",
    "91210381MA0Q12343X",
    "91210381MA0Q1234",
    "2024",
    "2025Q3",
    "2025Q5",
    "0000",
    "9999Q4",
    "2024-02-29",
    "2023-02-29",
    "9999-12-31",
    "0000-01-01",
    "00000000-0000-0000-0000-000000000000",
    "0190b3c4-5e6f-7a8b-9c0d-1e2f3a4b5c6d",
    "P-001",
    "XL-2024-001",
    "C2911",
    "2911",
    "TAX",
    "employees_total",
    "revenue_fen",
    "east",
    "eyJhZnRlciI6IjkxMjEwMzgxTUEwUTEyMzQzTCJ9",
    "WzEsMl0",
    "OTIyMzM3MjAzNjg1NDc3NTgwNw",
    "我们的园区",
    "\u{0}",
    "a\u{301}\u{301}\u{301}",
];

/// Whole numbers at the edges of what a check compares against.
const INTEGERS: &[i64] = &[
    0,
    1,
    -1,
    2,
    7,
    12,
    31,
    100,
    101,
    365,
    1000,
    2024,
    10_000,
    1_000_000,
    100_000_000,
    1_000_000_000_000_000,
    i32::MAX as i64,
    i32::MIN as i64,
    u32::MAX as i64,
    i64::MAX,
    i64::MIN,
    i64::MAX / 2 + 1,
    253_402_300_799,
    -62_135_596_800,
];

/// Builds encoded messages of our contracts from their descriptors.
pub struct Messages {
    messages: Vec<(String, DescriptorProto)>,
}

impl Default for Messages {
    fn default() -> Self {
        Self::new()
    }
}

impl Messages {
    /// Every message of `haicheng_proto`'s descriptor set (and the well-known types it uses).
    pub fn new() -> Self {
        let set = FileDescriptorSet::decode(haicheng_proto::FILE_DESCRIPTOR_SET)
            .expect("the contract's descriptor set decodes");
        let mut messages = Vec::new();
        for file in set.file {
            let package = file.package().to_string();
            for message in file.message_type {
                collect(&format!(".{package}"), message, &mut messages);
            }
        }
        Self { messages }
    }

    /// Whether the contracts have a message of `full_name`.
    pub fn contains(&self, full_name: &str) -> bool {
        self.find(full_name).is_some()
    }

    fn find(&self, full_name: &str) -> Option<&DescriptorProto> {
        let wanted = format!(".{}", full_name.trim_start_matches('.'));
        self.messages
            .iter()
            .find(|(name, _)| *name == wanted)
            .map(|(_, m)| m)
    }

    /// A message of `full_name` (`haicheng.census.v1.SubmitReturnRequest`), encoded; empty
    /// for a name the contracts do not have.
    pub fn encoded(&self, full_name: &str, rng: &mut Rng) -> Vec<u8> {
        let mut out = Vec::new();
        if let Some(message) = self.find(full_name) {
            self.write_message(message, rng, 0, &mut out);
        }
        out
    }

    fn write_message(
        &self,
        message: &DescriptorProto,
        rng: &mut Rng,
        depth: usize,
        out: &mut Vec<u8>,
    ) {
        for field in &message.field {
            // Most fields set; some left out, as callers do.
            if rng.chance(5) {
                continue;
            }
            let repeated = field.label() == Label::Repeated;
            let count = if repeated { rng.below(4) } else { 1 };
            for _ in 0..count {
                self.write_field(field, rng, depth, out);
            }
        }
    }

    fn write_field(
        &self,
        field: &FieldDescriptorProto,
        rng: &mut Rng,
        depth: usize,
        out: &mut Vec<u8>,
    ) {
        let number = field.number() as u64;
        match field.r#type() {
            Type::Message | Type::Group => {
                let Some(nested) = self.find(field.type_name()) else {
                    return;
                };
                if depth > 4 {
                    return;
                }
                let mut body = Vec::new();
                self.write_message(nested, rng, depth + 1, &mut body);
                key(number, 2, out);
                prost::encoding::encode_varint(body.len() as u64, out);
                out.extend_from_slice(&body);
            }
            Type::String | Type::Bytes => {
                let text = if rng.chance(6) {
                    random_text(rng)
                } else {
                    (*rng.pick(STRINGS)).to_string()
                };
                key(number, 2, out);
                prost::encoding::encode_varint(text.len() as u64, out);
                out.extend_from_slice(text.as_bytes());
            }
            Type::Double => {
                key(number, 1, out);
                let value =
                    *rng.pick(&[0.0, 1.0, -1.0, 0.5, 100.0, 1e300, f64::NAN, f64::INFINITY]);
                out.extend_from_slice(&f64::to_le_bytes(value));
            }
            Type::Float => {
                key(number, 5, out);
                let value = *rng.pick(&[0.0_f32, 1.0, -1.0, 42.5, 100.5, f32::NAN, f32::INFINITY]);
                out.extend_from_slice(&f32::to_le_bytes(value));
            }
            Type::Bool => {
                key(number, 0, out);
                prost::encoding::encode_varint(rng.below(2) as u64, out);
            }
            Type::Enum => {
                // Mostly a small number (the defined values), sometimes an undefined one.
                let value = if rng.chance(8) {
                    *rng.pick(INTEGERS)
                } else {
                    rng.below(8) as i64
                };
                key(number, 0, out);
                prost::encoding::encode_varint(value as i32 as i64 as u64, out);
            }
            Type::Sint32 | Type::Sint64 => {
                let value = *rng.pick(INTEGERS);
                key(number, 0, out);
                prost::encoding::encode_varint(((value << 1) ^ (value >> 63)) as u64, out);
            }
            Type::Fixed32 | Type::Sfixed32 => {
                key(number, 5, out);
                out.extend_from_slice(&(*rng.pick(INTEGERS) as u32).to_le_bytes());
            }
            Type::Fixed64 | Type::Sfixed64 => {
                key(number, 1, out);
                out.extend_from_slice(&(*rng.pick(INTEGERS) as u64).to_le_bytes());
            }
            Type::Int32 | Type::Uint32 => {
                let value = *rng.pick(INTEGERS);
                key(number, 0, out);
                prost::encoding::encode_varint(value as i32 as i64 as u64, out);
            }
            Type::Int64 | Type::Uint64 => {
                key(number, 0, out);
                prost::encoding::encode_varint(*rng.pick(INTEGERS) as u64, out);
            }
        }
    }
}

fn collect(scope: &str, message: DescriptorProto, out: &mut Vec<(String, DescriptorProto)>) {
    let name = format!("{scope}.{}", message.name());
    for nested in message.nested_type.clone() {
        collect(&name, nested, out);
    }
    out.push((name, message));
}

fn key(number: u64, wire_type: u64, out: &mut Vec<u8>) {
    prost::encoding::encode_varint((number << 3) | wire_type, out);
}

fn random_text(rng: &mut Rng) -> String {
    let len = rng.below(24);
    (0..len)
        .map(|_| {
            *rng.pick(&[
                '0', '9', 'A', 'Z', 'a', '-', '_', ' ', 'Q', '.', ',', ';', '=', ':', '"', '中',
                '\u{202e}',
            ])
        })
        .collect()
}

/// `input` with a few random edits: bytes flipped, set to an edge value, inserted, removed,
/// or a stretch repeated.
pub fn mutate(input: &[u8], rng: &mut Rng) -> Vec<u8> {
    let mut out = input.to_vec();
    for _ in 0..=rng.below(4) {
        let at = if out.is_empty() {
            0
        } else {
            rng.below(out.len())
        };
        match rng.below(6) {
            0 if !out.is_empty() => out[at] ^= 1 << rng.below(8),
            1 if !out.is_empty() => {
                out[at] = *rng.pick(&[0, 0x7F, 0x80, 0xFF, b'0', b'9', b',', b'"', b'\n'])
            }
            2 => out.insert(at, rng.next_u64() as u8),
            3 if !out.is_empty() => {
                out.remove(at);
            }
            4 if !out.is_empty() => {
                let end = (at + 1 + rng.below(16)).min(out.len());
                let stretch = out[at..end].to_vec();
                out.splice(at..at, stretch);
            }
            _ => out.extend((0..rng.below(8)).map(|_| rng.next_u64() as u8)),
        }
    }
    out
}
