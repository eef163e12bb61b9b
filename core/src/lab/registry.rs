//! The one list of lab protocols, in the order menus show them: [`PROTOCOLS`], their
//! descriptions, and [`REGISTRY`], their entries, both made from that list. The lookups that
//! read the list ([`ProtocolInfo::all`], [`ProtocolInfo::named`], [`LabProtocol::all`],
//! [`LabProtocol::from_name`], [`LabProtocol::of_info`]) live here beside it, so the seam
//! (`protocol.rs`) and the runs (`run.rs`) never import the list that imports them.
//! Re-exported by `lab`.

use super::protocol::{ProtocolInfo, ProtocolSpec};
use super::run::LabProtocol;

/// Lists every lab protocol once, in the order menus show them, as two tables made from the
/// same list: [`PROTOCOLS`], their descriptions (data only), and [`REGISTRY`], their entries
/// with the code that runs them. A new protocol is one line.
macro_rules! registry {
    ($($spec:ty),+ $(,)?) => {
        /// Every lab protocol's description, in menu order: names, labels, options. What a
        /// page or a tool needs to route, show a menu or read a URL, without linking any
        /// protocol's code (the page's round view reads only this; [`REGISTRY`] holds the
        /// function pointers that would pull every protocol into its wasm).
        pub const PROTOCOLS: &[&ProtocolInfo] = &[$(&<$spec as ProtocolSpec>::INFO),+];
        /// Every lab protocol's entry, in the order of [`PROTOCOLS`]: the command line's
        /// `--protocol` values, the lab's runs and scenario checks come from here.
        pub const REGISTRY: &[LabProtocol] = &[$(LabProtocol::of::<$spec>(&<$spec as ProtocolSpec>::INFO)),+];
    };
}

registry!(
    super::swim::Spec,
    super::push_sum::Spec,
    super::kv::Spec,
    super::rumor::Spec,
);

impl ProtocolInfo {
    /// Every protocol's description, in menu order ([`PROTOCOLS`]).
    pub fn all() -> impl Iterator<Item = &'static ProtocolInfo> {
        PROTOCOLS.iter().copied()
    }

    /// The protocol named `name` (its command-line and URL name).
    pub fn named(name: &str) -> Option<&'static ProtocolInfo> {
        ProtocolInfo::all().find(|p| p.name == name)
    }
}

impl LabProtocol {
    /// Every protocol, in the order menus show them.
    pub fn all() -> impl Iterator<Item = LabProtocol> {
        REGISTRY.iter().copied()
    }

    /// The protocol named `name`.
    pub fn from_name(name: &str) -> Option<LabProtocol> {
        LabProtocol::all().find(|p| p.name() == name)
    }

    /// The entry that `info` describes (every [`PROTOCOLS`] entry has one: both tables come
    /// from one list).
    pub fn of_info(info: &ProtocolInfo) -> LabProtocol {
        LabProtocol::all()
            .find(|p| p.info == info)
            .expect("PROTOCOLS and REGISTRY list the same protocols")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The page routes by [`PROTOCOLS`] and runs by [`REGISTRY`]: each description must be
    /// its entry's, in the same order, and a name must find both.
    #[test]
    fn descriptions_and_entries_list_the_same_protocols_in_order() {
        assert_eq!(PROTOCOLS.len(), REGISTRY.len());
        for (info, entry) in PROTOCOLS.iter().zip(REGISTRY) {
            assert_eq!(*info, entry.info);
            assert_eq!(ProtocolInfo::named(info.name), Some(*info));
            assert_eq!(LabProtocol::of_info(info), *entry);
            assert_eq!(LabProtocol::from_name(info.name), Some(*entry));
        }
        assert_eq!(ProtocolInfo::named("gossip"), None);
    }
}
