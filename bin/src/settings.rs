//! Small parsers for command-line values shared by the subcommands.

use std::collections::BTreeMap;

/// Parses `1=10.0.0.1:7000,2=10.0.0.2:7000` into node id → address.
pub fn parse_members(text: &str) -> Result<BTreeMap<u64, String>, String> {
    let mut members = BTreeMap::new();
    for item in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let (id, addr) = item
            .split_once('=')
            .ok_or_else(|| format!("'{item}' is not ID=HOST:PORT"))?;
        let id: u64 = id
            .trim()
            .parse()
            .map_err(|_| format!("'{id}' in '{item}' is not a node id"))?;
        let addr = addr.trim();
        if !addr.contains(':') {
            return Err(format!("'{addr}' in '{item}' has no port"));
        }
        if members.insert(id, addr.to_string()).is_some() {
            return Err(format!("node {id} is listed twice"));
        }
    }
    if members.is_empty() {
        return Err("no members given".into());
    }
    Ok(members)
}

/// Parses `0,1,2` into group ids.
pub fn parse_groups(text: &str) -> Result<Vec<u64>, String> {
    text.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|g| g.parse().map_err(|_| format!("'{g}' is not a group id")))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_parse_and_reject_bad_input() {
        let members = parse_members("1=a:1, 2=b:2").unwrap();
        assert_eq!(members[&1], "a:1");
        assert_eq!(members[&2], "b:2");
        assert!(parse_members("1=a").unwrap_err().contains("no port"));
        assert!(
            parse_members("x=a:1")
                .unwrap_err()
                .contains("not a node id")
        );
        assert!(parse_members("1=a:1,1=b:2").unwrap_err().contains("twice"));
        assert!(parse_members("").is_err());
    }

    #[test]
    fn groups_parse() {
        assert_eq!(parse_groups("0, 1,2").unwrap(), vec![0, 1, 2]);
        assert!(parse_groups("a").is_err());
    }
}

/// `--shard-new-collections`: what happens to a collection the first time
/// it is written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum NewCollections {
    /// It lives unsharded on its database's primary shard (MongoDB's way).
    #[default]
    Unsharded,
    /// It is sharded on `{_id: "hashed"}` (development and testing: every
    /// request then runs through scatter-gather).
    Hashed,
}

impl NewCollections {
    /// The router option this setting stands for.
    pub fn shard_key(self) -> Option<lauradb_engine::sharding::ShardKeyPattern> {
        match self {
            NewCollections::Unsharded => None,
            NewCollections::Hashed => Some(lauradb_engine::sharding::ShardKeyPattern {
                fields: vec!["_id".into()],
                hashed: true,
            }),
        }
    }
}
