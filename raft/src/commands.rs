//! The commands of one log entry, kept as the bytes they arrived in.
//!
//! A write is encoded once, by the client that sends it (see
//! `crate::coalescer`). Everything the Raft layer does with it afterwards —
//! store it in the leader's log, send it to each follower, store it in each
//! follower's log — moves bytes, so re-encoding it at every step would be
//! pure waste (it was about a twentieth of a shard's CPU under load).
//! [`Commands`] therefore holds an entry's commands as one MessagePack array
//! in its wire form, and decodes them only when a replica applies the entry.
//!
//! ```text
//!  client ── encode ──▶ leader: decode once (to check) ─┐
//!                                                       ├─ bytes ─▶ log, followers, their logs
//!                       apply on each replica ◀─ decode ┘
//! ```
//!
//! (A client in the leader's own process hands over the command it encoded
//! with its bytes, so that leader decodes nothing; see `network::local`.)
//!
//! Invariants:
//!
//! * **The bytes are the truth.** Every replica stores and applies exactly
//!   the bytes the leader proposed, so all of them decode the same commands.
//!   A leader only proposes bytes it has itself decoded into commands, or
//!   that a client in its process encoded from the command it hands over
//!   ([`Commands::from_encoded`] takes both), so an entry that fails to
//!   decode at apply means corruption, reported as a storage error. Decoding
//!   gives back the very command that was encoded (a test checks every
//!   kind), so the leader's copy and the followers' decoded ones agree.
//! * **Cheap clones.** The log cache and openraft clone entries freely; a
//!   clone shares the bytes (and, until apply, the leader's decoded copy).
//! * **Decoded only until applied.** The leader's decoded copy is handed to
//!   its state machine once ([`Commands::decode`] takes it) and then
//!   dropped, and a follower decodes the bytes when it applies and keeps
//!   nothing. So an entry the log cache still holds after it was applied
//!   costs its bytes, not also its decoded documents (which weigh several
//!   times the bytes: with both kept, the cache's 32 MiB budget of bytes
//!   held ~180 MiB per group under load).
//! * **Readable old logs.** An entry written before this layout (commands as
//!   a MessagePack array of maps inside the entry) still decodes.

use std::fmt;
use std::sync::{Arc, Mutex};

use lauradb_engine::command::Command;
use serde::de::{self, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// See the [module documentation](self).
#[derive(Clone)]
pub struct Commands(Arc<Inner>);

struct Inner {
    /// An rmp array header followed by each command's rmp encoding.
    encoded: Vec<u8>,
    /// How many commands `encoded` holds (read from its header).
    count: usize,
    /// The leader's decoded commands, until its state machine takes them.
    decoded: Mutex<Option<Arc<[Command]>>>,
}

/// One command with the bytes it was decoded from.
pub struct EncodedCommand {
    pub command: Command,
    pub encoded: Vec<u8>,
}

impl EncodedCommand {
    /// Encodes `command` (for entries built from decoded commands: tests,
    /// old-layout log entries).
    pub fn encode(command: Command) -> Result<EncodedCommand, rmp_serde::encode::Error> {
        let encoded = crate::codec::encode(&command)?;
        Ok(EncodedCommand { command, encoded })
    }

    /// Decodes one command that must fill `payload` exactly (a `Write`
    /// payload).
    pub fn decode(payload: Vec<u8>) -> Result<EncodedCommand, rmp_serde::decode::Error> {
        let mut rest = payload.as_slice();
        let command = take_command(&mut rest)?;
        nothing_after(rest, "the command")?;
        Ok(EncodedCommand {
            command,
            encoded: payload,
        })
    }
}

/// Splits an rmp array of commands (a `WriteBatch` payload) into its
/// commands, each with its own bytes.
pub fn split_batch(payload: &[u8]) -> Result<Vec<EncodedCommand>, rmp_serde::decode::Error> {
    let mut rest = payload;
    let count = rmp::decode::read_array_len(&mut rest)
        .map_err(|e| rmp_serde::decode::Error::Syntax(format!("a batch of commands: {e}")))?;
    let mut commands = Vec::with_capacity((count as usize).min(rest.len()));
    for _ in 0..count {
        let before = rest;
        let command = take_command(&mut rest)?;
        let used = before.len() - rest.len();
        commands.push(EncodedCommand {
            command,
            encoded: before[..used].to_vec(),
        });
    }
    nothing_after(rest, "the last command")?;
    Ok(commands)
}

/// Decodes the command at the front of `rest` and advances past exactly its
/// bytes. The value's extent is found first ([`crate::codec::value_len`]),
/// so the decoder reads a slice and borrows its strings and binaries
/// instead of copying each one out (a reader-based decoder would).
fn take_command(rest: &mut &[u8]) -> Result<Command, rmp_serde::decode::Error> {
    let len = crate::codec::value_len(rest).map_err(rmp_serde::decode::Error::Syntax)?;
    let (command, after) = rest.split_at(len);
    let command = rmp_serde::from_slice(command)?;
    *rest = after;
    Ok(command)
}

/// Stray bytes after the commands would be stored with them and break the
/// entry's layout, so they are refused.
fn nothing_after(rest: &[u8], what: &str) -> Result<(), rmp_serde::decode::Error> {
    match rest.len() {
        0 => Ok(()),
        extra => Err(rmp_serde::decode::Error::Syntax(format!(
            "{extra} bytes after {what}"
        ))),
    }
}

impl Commands {
    /// The commands of a new entry, from commands the leader decoded and the
    /// bytes it decoded them from.
    pub fn from_encoded(commands: Vec<EncodedCommand>) -> Commands {
        let body: usize = commands.iter().map(|c| c.encoded.len()).sum();
        let mut encoded = Vec::with_capacity(5 + body);
        rmp::encode::write_array_len(&mut encoded, commands.len() as u32)
            .expect("writing to a Vec cannot fail");
        let mut decoded = Vec::with_capacity(commands.len());
        for command in commands {
            encoded.extend_from_slice(&command.encoded);
            decoded.push(command.command);
        }
        Commands(Arc::new(Inner {
            encoded,
            count: decoded.len(),
            decoded: Mutex::new(Some(decoded.into())),
        }))
    }

    /// Received or stored bytes; decoded when first needed.
    fn from_bytes(encoded: Vec<u8>) -> Result<Commands, String> {
        let count = rmp::decode::read_array_len(&mut encoded.as_slice())
            .map_err(|e| format!("an entry's commands: {e}"))? as usize;
        Ok(Commands(Arc::new(Inner {
            encoded,
            count,
            decoded: Mutex::new(None),
        })))
    }

    /// How many commands the entry carries (no decoding needed).
    pub fn len(&self) -> usize {
        self.0.count
    }

    pub fn is_empty(&self) -> bool {
        self.0.count == 0
    }

    /// The commands, for applying them: the first call on a leader's entry
    /// hands over the leader's decoded copy (which the entry then forgets);
    /// every other call decodes the bytes.
    pub fn decode(&self) -> Result<Arc<[Command]>, std::io::Error> {
        if let Some(commands) = self.lock_decoded().take() {
            return Ok(commands);
        }
        crate::codec::decode::<Vec<Command>>(&self.0.encoded)
            .map(Into::into)
            .map_err(|e| {
                std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!("a log entry's commands do not decode: {e}"),
                )
            })
    }

    /// The leader's decoded commands if it still holds them (for logs:
    /// formatting never decodes).
    pub fn decoded_if_ready(&self) -> Option<Arc<[Command]>> {
        self.lock_decoded().clone()
    }

    fn lock_decoded(&self) -> std::sync::MutexGuard<'_, Option<Arc<[Command]>>> {
        self.0.decoded.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl From<Vec<Command>> for Commands {
    /// Encodes the commands (for tests and tools that build entries).
    fn from(commands: Vec<Command>) -> Commands {
        Commands::from_encoded(
            commands
                .into_iter()
                .map(|c| EncodedCommand::encode(c).expect("an engine command encodes"))
                .collect(),
        )
    }
}

impl PartialEq for Commands {
    fn eq(&self, other: &Commands) -> bool {
        self.0.encoded == other.0.encoded
    }
}

impl Serialize for Commands {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_bytes(&self.0.encoded)
    }
}

impl<'de> Deserialize<'de> for Commands {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Commands, D::Error> {
        deserializer.deserialize_any(CommandsVisitor)
    }
}

struct CommandsVisitor;

impl<'de> Visitor<'de> for CommandsVisitor {
    type Value = Commands;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("encoded engine commands")
    }

    fn visit_bytes<E: de::Error>(self, bytes: &[u8]) -> Result<Commands, E> {
        Commands::from_bytes(bytes.to_vec()).map_err(E::custom)
    }

    fn visit_byte_buf<E: de::Error>(self, bytes: Vec<u8>) -> Result<Commands, E> {
        Commands::from_bytes(bytes).map_err(E::custom)
    }

    /// The layout before commands were kept encoded: a sequence of them.
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Commands, A::Error> {
        let mut commands = Vec::new();
        while let Some(command) = seq.next_element::<Command>()? {
            commands.push(EncodedCommand::encode(command).map_err(de::Error::custom)?);
        }
        Ok(Commands::from_encoded(commands))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::doc;
    use lauradb_engine::command::{Namespace, Operation};

    fn insert(n: i32) -> Command {
        Command {
            request: None,
            now_millis: 0,
            op: Operation::Insert {
                ns: Namespace::new("db", "c"),
                documents: vec![doc! {"_id": n, "v": "x".repeat(n as usize)}],
                ordered: true,
            },
        }
    }

    fn batch_payload(commands: &[Command]) -> Vec<u8> {
        let mut payload = Vec::new();
        rmp::encode::write_array_len(&mut payload, commands.len() as u32).unwrap();
        for command in commands {
            payload.extend(crate::codec::encode(command).unwrap());
        }
        payload
    }

    #[test]
    fn a_batch_splits_into_each_commands_own_bytes() {
        let commands: Vec<Command> = (1..=4).map(insert).collect();
        let split = split_batch(&batch_payload(&commands)).unwrap();
        assert_eq!(split.len(), 4);
        for (part, original) in split.iter().zip(&commands) {
            assert_eq!(&part.command, original);
            assert_eq!(part.encoded, crate::codec::encode(original).unwrap());
        }
        // The entry built from them holds exactly the batch's bytes.
        let entry = Commands::from_encoded(split);
        assert_eq!(entry.0.encoded, batch_payload(&commands));
    }

    /// A document with a value of every BSON type, the awkward ones
    /// included (NaN, −0.0, old binary, code with scope, Unicode keys).
    fn every_bson_type() -> bson::Document {
        use bson::spec::BinarySubtype;
        use bson::{Binary, Bson, JavaScriptCodeWithScope, Regex, Timestamp};
        // DbPointer has no public constructor: read one from its wire form.
        let mut element = vec![0x0c, b'p', 0];
        element.extend(5_i32.to_le_bytes());
        element.extend(b"db.c\0");
        element.extend([7u8; 12]);
        let mut raw = ((4 + element.len() + 1) as i32).to_le_bytes().to_vec();
        raw.extend(element);
        raw.push(0);
        let pointer = bson::Document::from_reader(raw.as_slice())
            .unwrap()
            .remove("p")
            .unwrap();
        assert!(matches!(pointer, Bson::DbPointer(_)));
        doc! {
            "_id": bson::oid::ObjectId::from_bytes([1; 12]),
            "double": 1.5, "nan": f64::NAN, "negative zero": -0.0, "inf": f64::INFINITY,
            "string": "héllo\u{0}world", "ключ": "значение",
            "doc": {"nested": {"deeper": [1, {"x": null}]}},
            "array": [1_i32, 2_i64, "three", [4.0]],
            "binary": Binary { subtype: BinarySubtype::Generic, bytes: vec![0, 1, 2] },
            "old binary": Binary { subtype: BinarySubtype::BinaryOld, bytes: vec![3, 4] },
            "uuid": Binary { subtype: BinarySubtype::Uuid, bytes: vec![5; 16] },
            "undefined": Bson::Undefined,
            "bool": true, "date": bson::DateTime::from_millis(-1),
            "null": null,
            "regex": Regex { pattern: "^a.*b$".try_into().unwrap(), options: "im".try_into().unwrap() },
            "pointer": pointer,
            "code": Bson::JavaScriptCode("f()".into()),
            "symbol": Bson::Symbol("s".into()),
            "code with scope": JavaScriptCodeWithScope { code: "g(x)".into(), scope: doc! {"x": 1} },
            "int32": i32::MIN, "int64": i64::MAX,
            "timestamp": Timestamp { time: 7, increment: 9 },
            "decimal": Bson::Decimal128(bson::Decimal128::from_bytes([3; 16])),
            "min": Bson::MinKey, "max": Bson::MaxKey,
        }
    }

    fn every_kind_of_command() -> Vec<Command> {
        use lauradb_engine::command::{CollectionOptions, FindAndModifyAction, UpdateKind};
        use lauradb_engine::sharding::{
            CollectionRouting, KeyRange, ShardKeyPattern, ShardVersion,
        };
        let ns = || Namespace::new("db", "c");
        let all = every_bson_type();
        let version = ShardVersion {
            epoch: 3,
            major: 2,
            minor: 1,
        };
        let ops = vec![
            Operation::Insert {
                ns: ns(),
                documents: vec![all.clone(), doc! {"_id": 2}],
                ordered: false,
            },
            Operation::Update {
                ns: ns(),
                filter: all.clone(),
                kind: UpdateKind::Operators {
                    update: doc! {"$set": all.clone()},
                    array_filters: vec![doc! {"e.x": 1}],
                },
                multi: true,
                upsert: true,
                upsert_id: Some(bson::Bson::Double(f64::NAN)),
            },
            Operation::Update {
                ns: ns(),
                filter: doc! {},
                kind: UpdateKind::Replacement(all.clone()),
                multi: false,
                upsert: false,
                upsert_id: None,
            },
            Operation::Delete {
                ns: ns(),
                filter: all.clone(),
                multi: false,
            },
            Operation::FindAndModify {
                ns: ns(),
                filter: all.clone(),
                sort: doc! {"a": -1},
                projection: doc! {"b": 0},
                action: FindAndModifyAction::Update(UpdateKind::Replacement(all.clone())),
                return_new: true,
                upsert: true,
                upsert_id: Some(bson::Bson::Int32(4)),
            },
            Operation::FindAndModify {
                ns: ns(),
                filter: doc! {},
                sort: doc! {},
                projection: doc! {},
                action: FindAndModifyAction::Delete,
                return_new: false,
                upsert: false,
                upsert_id: None,
            },
            Operation::CreateCollection {
                ns: ns(),
                options: CollectionOptions { raw: all.clone() },
            },
            Operation::DropCollection { ns: ns() },
            Operation::DropDatabase { db: "db".into() },
            Operation::RenameCollection {
                from: ns(),
                to: Namespace::new("d2", "c2"),
                drop_target: true,
            },
            Operation::InstallRouting {
                ns: ns(),
                routing: CollectionRouting {
                    version,
                    incarnation: 5,
                    key: Some(ShardKeyPattern::parse(&doc! {"a": 1, "b": 1}).unwrap()),
                    owned: vec![KeyRange {
                        min: vec![0],
                        max: vec![0xff, 1],
                        max_inclusive: true,
                    }],
                },
            },
        ];
        let mut commands: Vec<Command> = ops
            .iter()
            .cloned()
            .map(|op| Command {
                request: None,
                now_millis: -5,
                op,
            })
            .collect();
        commands.extend(ops.into_iter().map(|op| Command {
            request: Some(lauradb_engine::command::RequestId {
                session: u128::MAX,
                seq: 9,
            }),
            now_millis: i64::MAX,
            op: Operation::Versioned {
                version,
                op: Box::new(op),
            },
        }));
        commands
    }

    /// A leader in this process applies the command its client encoded
    /// (`network::local::write`), its followers what they decode from the
    /// bytes: decoding must give back the command itself, or the replicas
    /// would diverge. `PartialEq` cannot see NaN's payload or −0.0's sign,
    /// so the re-encoded bytes must match too.
    #[test]
    fn every_kind_of_command_decodes_to_itself() {
        for command in every_kind_of_command() {
            let bytes = crate::codec::encode(&command).unwrap();
            let decoded = EncodedCommand::decode(bytes.clone()).unwrap().command;
            assert_eq!(
                crate::codec::encode(&decoded).unwrap(),
                bytes,
                "{}: re-encoded bytes differ",
                command.op.name()
            );
            assert_eq!(
                format!("{decoded:?}"),
                format!("{command:?}"),
                "{}: decoded command differs",
                command.op.name()
            );
        }
    }

    #[test]
    fn a_single_command_must_fill_its_payload() {
        let mut payload = crate::codec::encode(&insert(2)).unwrap();
        assert_eq!(
            EncodedCommand::decode(payload.clone()).unwrap().command,
            insert(2)
        );
        payload.push(0xc0);
        assert!(EncodedCommand::decode(payload).is_err(), "trailing bytes");
    }

    #[test]
    fn malformed_batches_are_refused() {
        let mut payload = batch_payload(&[insert(1), insert(2)]);
        assert!(
            split_batch(&payload[..payload.len() - 3]).is_err(),
            "truncated"
        );
        payload.push(0xc0);
        assert!(split_batch(&payload).is_err(), "trailing bytes");
        let mut claims_three = batch_payload(&[insert(1), insert(2)]);
        claims_three[0] = 0x93;
        assert!(
            split_batch(&claims_three).is_err(),
            "fewer commands than claimed"
        );
        assert!(split_batch(b"\x91\xa3abc").is_err(), "not a command");
    }

    #[test]
    fn entries_travel_as_bytes_and_decode_when_applied() {
        let commands: Commands = vec![insert(1), insert(2)].into();
        let bytes = crate::codec::encode(&commands).unwrap();
        let received: Commands = crate::codec::decode(&bytes).unwrap();
        assert_eq!(received.len(), 2);
        assert!(received.decoded_if_ready().is_none(), "not decoded yet");
        assert_eq!(&*received.decode().unwrap(), &[insert(1), insert(2)]);
        assert!(
            received.decoded_if_ready().is_none(),
            "a follower keeps no decoded copy"
        );
        assert!(received == commands);
    }

    #[test]
    fn the_leaders_decoded_copy_is_handed_over_once_then_dropped() {
        let commands: Commands = vec![insert(1), insert(2)].into();
        let cached = commands.clone();
        let first = commands.decode().unwrap();
        assert_eq!(&*first, &[insert(1), insert(2)]);
        assert!(
            cached.decoded_if_ready().is_none(),
            "clones share the copy, so it is gone from the cached one too"
        );
        drop(first);
        // Applying again (a restart re-applies from the log) decodes the bytes.
        assert_eq!(&*cached.decode().unwrap(), &[insert(1), insert(2)]);
    }

    #[test]
    fn entries_in_the_old_layout_still_decode() {
        let old = crate::codec::encode(&vec![insert(3), insert(4)]).unwrap();
        let commands: Commands = crate::codec::decode(&old).unwrap();
        assert_eq!(&*commands.decode().unwrap(), &[insert(3), insert(4)]);
    }

    #[test]
    fn corrupt_stored_commands_are_a_data_error_not_a_panic() {
        let bytes = crate::codec::encode(&serde_bytes_of(b"\x92\x01")).unwrap();
        let commands: Commands = crate::codec::decode(&bytes).unwrap();
        assert_eq!(commands.len(), 2);
        let err = commands.decode().unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::InvalidData);
    }

    /// Bytes that serialise as an rmp `bin`, as `Commands` does.
    fn serde_bytes_of(bytes: &'static [u8]) -> impl Serialize {
        struct Bin(&'static [u8]);
        impl Serialize for Bin {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_bytes(self.0)
            }
        }
        Bin(bytes)
    }
}
