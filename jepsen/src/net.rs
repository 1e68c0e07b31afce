//! Network namespaces for a test cluster, and partitions between them.
//!
//! ```text
//!   host ns: bridge {prefix}br  10.77.S.1        (the harness's clients live here)
//!      ├─ veth ─ ns {prefix}n1   10.77.S.11       lauradb node 1
//!      ├─ veth ─ ns {prefix}n2   10.77.S.12       lauradb node 2
//!      ├─ veth ─ ns {prefix}n3   10.77.S.13       lauradb node 3
//!      └─ veth ─ ns {prefix}r    10.77.S.5        lauradb router
//! ```
//!
//! A partition is a [`Grudges`] map: for every member, the members whose
//! packets it drops. Components (`{a, b} | {c}`) are the common case, but
//! grudges also express partitions that are not transitive — a bridge node
//! that hears both halves, or a ring where every node hears a different
//! majority. Every member gets one nftables table (`inet jepsen`) whose input
//! chain drops packets from the members it holds a grudge against. Each
//! member's table is replaced in one `nft -f` transaction, so a member never
//! sees half a rule set. Healing deletes the tables.
//! Traffic never leaves these namespaces and the host's bridge.
//!
//! Docker (when present) sets the host's FORWARD policy to drop, which also
//! catches bridged traffic, so setup inserts an accept rule for the bridge
//! and teardown removes it. Everything is torn down on drop.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

/// Why setting up or changing the network failed.
#[derive(Debug, thiserror::Error)]
pub enum NetError {
    #[error("`{command}` failed: {stderr}")]
    Command { command: String, stderr: String },
    #[error("cannot run `{command}`: {source}")]
    Spawn {
        command: String,
        source: std::io::Error,
    },
}

fn run(args: &[&str], stdin: Option<&str>) -> Result<(), NetError> {
    use std::io::Write;
    let command = args.join(" ");
    let mut child = Command::new(args[0])
        .args(&args[1..])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(|source| NetError::Spawn {
            command: command.clone(),
            source,
        })?;
    if let Some(input) = stdin
        && let Some(mut pipe) = child.stdin.take()
    {
        pipe.write_all(input.as_bytes())
            .map_err(|source| NetError::Spawn {
                command: command.clone(),
                source,
            })?;
    }
    let output = child.wait_with_output().map_err(|source| NetError::Spawn {
        command: command.clone(),
        source,
    })?;
    if output.status.success() {
        Ok(())
    } else {
        Err(NetError::Command {
            command,
            stderr: String::from_utf8_lossy(&output.stderr).trim().to_string(),
        })
    }
}

/// Who refuses to hear from whom: member → the members whose packets it drops.
pub type Grudges = BTreeMap<String, BTreeSet<String>>;

/// The grudges of a partition into components: every member listed drops
/// everyone in the other components (members in no component hear all).
pub fn grudges_of(components: &[BTreeSet<String>]) -> Grudges {
    let mut grudges = Grudges::new();
    for mine in components {
        let others: BTreeSet<String> = components
            .iter()
            .filter(|c| *c != mine)
            .flatten()
            .cloned()
            .collect();
        for member in mine {
            grudges
                .entry(member.clone())
                .or_default()
                .extend(others.iter().cloned());
        }
    }
    grudges
}

/// The nftables script that makes a network namespace drop packets from
/// `blocked` addresses (none: no rules). It declares, deletes and re-creates
/// the table in one transaction, so it is atomic.
pub fn drop_rules(blocked: &[&str]) -> String {
    let mut script = String::from("table inet jepsen\ndelete table inet jepsen\n");
    if !blocked.is_empty() {
        script.push_str(&format!(
            "table inet jepsen {{\n  chain input {{\n    type filter hook input priority 0; policy accept;\n    ip saddr {{ {} }} drop\n  }}\n}}\n",
            blocked.join(", ")
        ));
    }
    script
}

/// The namespaces, addresses and bridge of one test cluster.
pub struct Network {
    prefix: String,
    /// Member name → (namespace, address).
    members: BTreeMap<String, (String, String)>,
    up: bool,
}

impl Network {
    /// Creates the bridge and one namespace per member. `subnet` picks
    /// 10.77.{subnet}.0/24 so that concurrent runs do not collide.
    pub fn create(prefix: &str, subnet: u8, members: &[(&str, u8)]) -> Result<Network, NetError> {
        let mut network = Network {
            prefix: prefix.to_string(),
            members: BTreeMap::new(),
            up: true,
        };
        let bridge = network.bridge();
        // Leftovers of a crashed earlier run with the same prefix.
        network.remove_leftovers(members);
        run(&["ip", "link", "add", &bridge, "type", "bridge"], None)?;
        run(
            &[
                "ip",
                "addr",
                "add",
                &format!("10.77.{subnet}.1/24"),
                "dev",
                &bridge,
            ],
            None,
        )?;
        run(&["ip", "link", "set", &bridge, "up"], None)?;
        let _ = run(
            &[
                "iptables", "-I", "FORWARD", "1", "-i", &bridge, "-o", &bridge, "-j", "ACCEPT",
            ],
            None,
        );
        for (name, host) in members {
            let ns = format!("{prefix}{name}");
            let ip = format!("10.77.{subnet}.{host}");
            let host_end = format!("{prefix}{name}h");
            run(&["ip", "netns", "add", &ns], None)?;
            run(
                &[
                    "ip", "link", "add", &host_end, "type", "veth", "peer", "name", "eth0",
                    "netns", &ns,
                ],
                None,
            )?;
            run(
                &["ip", "link", "set", &host_end, "master", &bridge, "up"],
                None,
            )?;
            run(
                &[
                    "ip",
                    "-n",
                    &ns,
                    "addr",
                    "add",
                    &format!("{ip}/24"),
                    "dev",
                    "eth0",
                ],
                None,
            )?;
            run(&["ip", "-n", &ns, "link", "set", "eth0", "up"], None)?;
            run(&["ip", "-n", &ns, "link", "set", "lo", "up"], None)?;
            network.members.insert(name.to_string(), (ns, ip));
        }
        Ok(network)
    }

    fn bridge(&self) -> String {
        format!("{}br", self.prefix)
    }

    fn remove_leftovers(&self, members: &[(&str, u8)]) {
        for (name, _) in members {
            let _ = run(
                &["ip", "netns", "del", &format!("{}{name}", self.prefix)],
                None,
            );
        }
        let bridge = self.bridge();
        let _ = run(&["ip", "link", "del", &bridge], None);
        let _ = run(
            &[
                "iptables", "-D", "FORWARD", "-i", &bridge, "-o", &bridge, "-j", "ACCEPT",
            ],
            None,
        );
    }

    /// The namespace of a member.
    pub fn namespace(&self, member: &str) -> &str {
        &self.members[member].0
    }

    /// The address of a member.
    pub fn ip(&self, member: &str) -> &str {
        &self.members[member].1
    }

    /// Applies `grudges`: each member drops packets from the members listed
    /// for it; members not listed hear everyone.
    pub fn partition(&self, grudges: &Grudges) -> Result<(), NetError> {
        for (name, (ns, _)) in &self.members {
            let blocked: Vec<&str> = grudges
                .get(name)
                .into_iter()
                .flatten()
                .filter_map(|other| self.members.get(other).map(|m| m.1.as_str()))
                .collect();
            let script = drop_rules(&blocked);
            run(
                &["ip", "netns", "exec", ns, "nft", "-f", "-"],
                Some(&script),
            )?;
        }
        Ok(())
    }

    /// Removes every partition.
    pub fn heal(&self) -> Result<(), NetError> {
        self.partition(&Grudges::new())
    }

    /// Deletes the namespaces, the bridge and the forward rule.
    pub fn destroy(&mut self) {
        if !self.up {
            return;
        }
        self.up = false;
        for (ns, _) in self.members.values() {
            let _ = run(&["ip", "netns", "del", ns], None);
        }
        let bridge = self.bridge();
        let _ = run(&["ip", "link", "del", &bridge], None);
        let _ = run(
            &[
                "iptables", "-D", "FORWARD", "-i", &bridge, "-o", &bridge, "-j", "ACCEPT",
            ],
            None,
        );
    }
}

impl Drop for Network {
    fn drop(&mut self) {
        self.destroy();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(names: &[&str]) -> BTreeSet<String> {
        names.iter().map(|n| n.to_string()).collect()
    }

    #[test]
    fn components_become_symmetric_grudges() {
        let g = grudges_of(&[set(&["a", "b"]), set(&["c"])]);
        assert_eq!(g["a"], set(&["c"]));
        assert_eq!(g["b"], set(&["c"]));
        assert_eq!(g["c"], set(&["a", "b"]));
        assert!(!g.contains_key("d"));
    }

    #[test]
    fn rules_are_replaced_atomically_and_empty_means_none() {
        assert_eq!(
            drop_rules(&[]),
            "table inet jepsen\ndelete table inet jepsen\n"
        );
        let script = drop_rules(&["10.0.0.1", "10.0.0.2"]);
        assert!(script.starts_with("table inet jepsen\ndelete table inet jepsen\n"));
        assert!(script.contains("ip saddr { 10.0.0.1, 10.0.0.2 } drop"));
    }
}
