//! Who may talk to whom: the complete graph (the classic analyses) or a sparse topology.
//!
//! A node picks its `fanout` targets uniformly *without replacement* among its neighbours
//! ([`Graph::choose_peers`]); with fewer neighbours than `fanout` it contacts them all.

use crate::rng::{GossipRng, Stream};
use crate::rules::SettingsError;
use alloc::vec;
use alloc::vec::Vec;

/// The overlay on which nodes choose peers. Parameters are fixed so that a URL's
/// `topology=` name alone reproduces the graph.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Topology {
    /// Every node may contact every other node (the default, and what the theory assumes).
    Complete,
    /// A cycle: each node knows its two neighbours.
    Ring,
    /// A 2-D torus of width `w = round(sqrt(N))`: neighbours `i±1` and `i±w` (mod N). For
    /// N = w² rows wrap like a torus; otherwise rows continue helically, so any N works.
    Torus,
    /// A random 4-regular graph: the union of two random Hamiltonian cycles
    /// (contiguous to the uniform random regular graph; the rare repeated edge is dropped).
    Regular,
    /// Watts-Strogatz small world: a ring lattice of degree 4, each edge rewired with
    /// probability 0.1.
    SmallWorld,
    /// Barabási-Albert scale-free graph: each new node attaches 2 edges by preferential
    /// attachment, starting from a triangle.
    ScaleFree,
}

/// Degree of the random regular graph and the small-world lattice.
pub const SPARSE_DEGREE: u32 = 4;
/// Rewiring probability of the small world.
pub const SMALL_WORLD_REWIRE: f64 = 0.1;
/// Edges per new node in the scale-free graph.
pub const SCALE_FREE_LINKS: u32 = 2;

impl Topology {
    /// All topologies, in the order the page lists them.
    pub const ALL: [Topology; 6] = [
        Topology::Complete,
        Topology::Ring,
        Topology::Torus,
        Topology::Regular,
        Topology::SmallWorld,
        Topology::ScaleFree,
    ];

    /// The stable name used in URLs and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Topology::Complete => "complete",
            Topology::Ring => "ring",
            Topology::Torus => "torus",
            Topology::Regular => "regular",
            Topology::SmallWorld => "small-world",
            Topology::ScaleFree => "scale-free",
        }
    }

    /// Parses [`Topology::name`].
    pub fn from_name(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.name() == s)
    }

    /// The smallest number of nodes this topology can be built on.
    pub fn min_nodes(self) -> u32 {
        match self {
            Topology::Complete => 2,
            Topology::Ring => 3,
            Topology::Torus => 9,
            Topology::Regular | Topology::SmallWorld => SPARSE_DEGREE + 1,
            Topology::ScaleFree => SCALE_FREE_LINKS + 2,
        }
    }

    /// Width of the torus on `n` nodes.
    pub fn torus_width(n: u32) -> u32 {
        libm::round(libm::sqrt(f64::from(n))) as u32
    }
}

/// The graph nodes gossip on: implicit for the complete graph, adjacency lists (CSR) otherwise.
#[derive(Clone, Debug)]
pub enum Graph {
    /// Every node is adjacent to every other.
    Complete {
        /// Number of nodes.
        n: u32,
    },
    /// Compressed sparse rows: node `i`'s neighbours are `neighbors[offsets[i]..offsets[i+1]]`,
    /// sorted, without self-loops or repeats.
    Sparse {
        /// `n + 1` offsets into `neighbors`.
        offsets: Vec<u32>,
        /// Concatenated neighbour lists.
        neighbors: Vec<u32>,
        /// The ring's and the torus's rule for their inner nodes, computed rather than read.
        /// Not in the page (wasm32), whose first load is budgeted: the same draws either way.
        #[cfg(not(target_arch = "wasm32"))]
        lattice: Option<Lattice>,
    },
}

/// The neighbours of a lattice's inner nodes (ring, torus), computed from the node's number:
/// node `i` in `reach..n - reach` has the neighbours `i + step` for each of `steps[..degree]`,
/// in the order of its sorted list, so a draw picks the same neighbour from either. At 10^6
/// nodes a torus's lists and offsets are 20 MB, which every dense round read once (issue 22);
/// the lists stay for the nodes near the ends, whose neighbours wrap, and for drawing edges.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(target_arch = "wasm32", allow(dead_code))]
pub struct Lattice {
    steps: [i32; 4],
    degree: u32,
    reach: u32,
    inner: u32,
}

#[cfg_attr(target_arch = "wasm32", allow(dead_code))]
impl Lattice {
    /// The lattice whose inner nodes have the neighbours `i ± step` for each of `steps`
    /// (ascending, distinct, positive) on `n` nodes, or `None` if no node is inner.
    fn new(n: u32, steps: &[u32]) -> Option<Lattice> {
        let reach = *steps.last()?;
        let inner = n.checked_sub(2 * reach).filter(|&inner| inner > 0)?;
        let mut all = [0i32; 4];
        for (k, &s) in steps.iter().enumerate() {
            all[steps.len() - 1 - k] = -(s as i32);
            all[steps.len() + k] = s as i32;
        }
        Some(Lattice {
            steps: all,
            degree: 2 * steps.len() as u32,
            reach,
            inner,
        })
    }

    /// The steps to an inner node's neighbours, in the order of its sorted list.
    pub fn steps(&self) -> &[i32] {
        &self.steps[..self.degree as usize]
    }

    /// Whether all 64 nodes of the `w`-th word of a bit set are inner nodes.
    #[inline(always)]
    pub fn inner_word(&self, w: usize) -> bool {
        let first = w as u64 * 64;
        first >= u64::from(self.reach) && first + 64 <= u64::from(self.reach + self.inner)
    }

    /// Node `node`'s neighbours if it is inner (`buf` holds them), else `None`.
    #[inline(always)]
    fn neighbors<'a>(&self, node: u32, buf: &'a mut [u32; 4]) -> Option<&'a [u32]> {
        if node.wrapping_sub(self.reach) >= self.inner {
            return None;
        }
        for (slot, &step) in buf.iter_mut().zip(&self.steps) {
            *slot = node.wrapping_add_signed(step);
        }
        Some(&buf[..self.degree as usize])
    }
}

impl Graph {
    /// Builds `topology` on `n` nodes, drawing from the topology stream of `seed`.
    pub fn build(topology: Topology, n: u32, seed: u64) -> Result<Graph, SettingsError> {
        if n < topology.min_nodes() {
            return Err(SettingsError::Topology(match topology {
                Topology::Complete => "the complete graph needs at least 2 nodes",
                Topology::Ring => "a ring needs at least 3 nodes",
                Topology::Torus => "a torus needs at least 9 nodes",
                Topology::Regular => "a 4-regular graph needs at least 5 nodes",
                Topology::SmallWorld => "a small world needs at least 5 nodes",
                Topology::ScaleFree => "a scale-free graph needs at least 4 nodes",
            }));
        }
        let mut rng = GossipRng::derive(seed, Stream::Topology, 0);
        let mut edges: Vec<(u32, u32)> = Vec::new();
        match topology {
            Topology::Complete => return Ok(Graph::Complete { n }),
            Topology::Ring => edges.extend((0..n).map(|i| (i, (i + 1) % n))),
            Topology::Torus => {
                let w = Topology::torus_width(n);
                edges.extend((0..n).flat_map(|i| [(i, (i + 1) % n), (i, (i + w) % n)]));
            }
            Topology::Regular => {
                let mut order: Vec<u32> = (0..n).collect();
                for _ in 0..SPARSE_DEGREE / 2 {
                    for i in (1..n).rev() {
                        order.swap(i as usize, rng.below(i + 1) as usize);
                    }
                    edges
                        .extend((0..n).map(|i| (order[i as usize], order[((i + 1) % n) as usize])));
                }
            }
            Topology::SmallWorld => {
                let rewire = crate::rng::Chance::new(SMALL_WORLD_REWIRE);
                for i in 0..n {
                    for j in 1..=SPARSE_DEGREE / 2 {
                        let mut to = (i + j) % n;
                        if rng.chance(rewire) {
                            // A uniform random other node; a repeat edge is dropped below.
                            to = (i + 1 + rng.below(n - 1)) % n;
                        }
                        edges.push((i, to));
                    }
                }
            }
            Topology::ScaleFree => {
                let m = SCALE_FREE_LINKS;
                // Every edge end, so a uniform pick from it is a degree-proportional pick.
                let mut ends: Vec<u32> = Vec::with_capacity(2 * (m * n) as usize);
                for (a, b) in [(0, 1), (1, 2), (2, 0)] {
                    edges.push((a, b));
                    ends.extend([a, b]);
                }
                let mut chosen = [0u32; SCALE_FREE_LINKS as usize];
                for v in 3..n {
                    let mut k = 0;
                    while k < m as usize {
                        let t = ends[rng.below(ends.len() as u32) as usize];
                        if !chosen[..k].contains(&t) {
                            chosen[k] = t;
                            k += 1;
                        }
                    }
                    for &t in &chosen {
                        edges.push((v, t));
                        ends.extend([v, t]);
                    }
                }
            }
        }
        #[cfg_attr(target_arch = "wasm32", allow(unused_mut))]
        let mut graph = Graph::from_edges(n, &edges);
        #[cfg(not(target_arch = "wasm32"))]
        if let Graph::Sparse { lattice, .. } = &mut graph {
            *lattice = match topology {
                Topology::Ring => Lattice::new(n, &[1]),
                Topology::Torus => Lattice::new(n, &[1, Topology::torus_width(n)]),
                _ => None,
            };
        }
        Ok(graph)
    }

    /// Undirected adjacency lists from an edge list; drops self-loops and repeated edges.
    pub fn from_edges(n: u32, edges: &[(u32, u32)]) -> Graph {
        let mut degree = vec![0u32; n as usize + 1];
        for &(a, b) in edges {
            degree[a as usize] += 1;
            degree[b as usize] += 1;
        }
        let mut offsets = vec![0u32; n as usize + 1];
        for i in 0..n as usize {
            offsets[i + 1] = offsets[i] + degree[i];
        }
        let mut fill = offsets.clone();
        let mut neighbors = vec![0u32; offsets[n as usize] as usize];
        for &(a, b) in edges {
            neighbors[fill[a as usize] as usize] = b;
            fill[a as usize] += 1;
            neighbors[fill[b as usize] as usize] = a;
            fill[b as usize] += 1;
        }
        // Sort and deduplicate each list, compacting in place.
        let mut write = 0usize;
        let mut start = 0usize;
        for i in 0..n as usize {
            let end = offsets[i + 1] as usize;
            neighbors[start..end].sort_unstable();
            let list_start = write;
            for r in start..end {
                let v = neighbors[r];
                if v as usize != i && (write == list_start || neighbors[write - 1] != v) {
                    neighbors[write] = v;
                    write += 1;
                }
            }
            start = end;
            offsets[i + 1] = write as u32;
        }
        neighbors.truncate(write);
        Graph::Sparse {
            offsets,
            neighbors,
            #[cfg(not(target_arch = "wasm32"))]
            lattice: None,
        }
    }

    /// The rule of a ring's or a torus's inner nodes (never in the page, see the field).
    #[inline(always)]
    pub fn lattice(&self) -> Option<&Lattice> {
        match self {
            #[cfg(not(target_arch = "wasm32"))]
            Graph::Sparse { lattice, .. } => lattice.as_ref(),
            _ => None,
        }
    }

    /// Number of nodes.
    pub fn len(&self) -> u32 {
        match self {
            Graph::Complete { n } => *n,
            Graph::Sparse { offsets, .. } => offsets.len() as u32 - 1,
        }
    }

    /// Whether the graph has no nodes (never true for a built graph).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Number of neighbours of `node`.
    pub fn degree(&self, node: u32) -> u32 {
        match self {
            Graph::Complete { n } => n - 1,
            Graph::Sparse { offsets, .. } => offsets[node as usize + 1] - offsets[node as usize],
        }
    }

    /// The neighbours of `node` (for drawing edges); empty for the complete graph, whose
    /// edges are implicit.
    pub fn sparse_neighbors(&self, node: u32) -> &[u32] {
        match self {
            Graph::Complete { .. } => &[],
            Graph::Sparse {
                offsets, neighbors, ..
            } => Lists { offsets, neighbors }.of(node),
        }
    }

    /// [`Graph::choose_peers`] with a count of 1: one neighbour of `node`, uniformly at random
    /// (drawn only when there is a choice), or `None` if it has none.
    #[inline(always)]
    pub fn choose_peer(&self, node: u32, rng: &mut GossipRng) -> Option<u32> {
        match self {
            Graph::Complete { n } => match n {
                0 | 1 => None,
                2 => Some(1 - node),
                _ => Some(other_node(*n, node, rng)),
            },
            Graph::Sparse {
                offsets, neighbors, ..
            } => {
                if let Some(l) = self.lattice() {
                    if node.wrapping_sub(l.reach) < l.inner {
                        let index = rng.below(l.degree) as usize;
                        return Some(node.wrapping_add_signed(l.steps[index & 3]));
                    }
                }
                Lists { offsets, neighbors }.peer(node, rng)
            }
        }
    }

    /// The neighbour lists of a graph that has them (not the complete graph), for loops that
    /// draw peers for many nodes with the graph known to be one of lists: the graph matched
    /// once rather than per message. Their inner nodes' lattice (ring, torus) is not in it.
    #[inline(always)]
    pub fn lists(&self) -> Option<Lists<'_>> {
        match self {
            Graph::Complete { .. } => None,
            Graph::Sparse {
                offsets, neighbors, ..
            } => Some(Lists { offsets, neighbors }),
        }
    }

    /// Chooses `min(count, degree)` distinct neighbours of `node` uniformly at random into
    /// `out` and returns how many: each drawn uniformly among the neighbours, drawn again if
    /// already chosen; all of them, undrawn, when there are no more than `count`. `out` MUST
    /// hold at least `count` entries.
    #[inline(always)]
    pub fn choose_peers(
        &self,
        node: u32,
        count: u32,
        rng: &mut GossipRng,
        out: &mut [u32],
    ) -> usize {
        if count == 1 {
            // The fanout people mostly use, without the bookkeeping of distinct choices.
            let peer = self.choose_peer(node, rng);
            out[0] = peer.unwrap_or_default();
            return usize::from(peer.is_some());
        }
        self.choose_many(node, count, rng, out)
    }

    /// [`Graph::choose_peers`] with a count above 1. Inlined where it is called natively; in
    /// the page (wasm32) one copy, since its first load is budgeted (`e2e/parts.test.mjs`).
    #[cfg_attr(not(target_arch = "wasm32"), inline(always))]
    #[cfg_attr(target_arch = "wasm32", inline(never))]
    fn choose_many(&self, node: u32, count: u32, rng: &mut GossipRng, out: &mut [u32]) -> usize {
        match self {
            Graph::Complete { n } => {
                let degree = n.saturating_sub(1);
                if count >= degree {
                    // All the others, in order.
                    for (index, slot) in (0..degree).zip(out.iter_mut()) {
                        *slot = index + u32::from(index >= node);
                    }
                    return degree as usize;
                }
                choose_distinct(count as usize, out, rng, |rng| other_node(*n, node, rng))
            }
            Graph::Sparse {
                offsets, neighbors, ..
            } => {
                let mut buf = [0; 4];
                let inner = self.lattice().and_then(|l| l.neighbors(node, &mut buf));
                let list = inner.unwrap_or_else(|| Lists { offsets, neighbors }.of(node));
                let degree = list.len() as u32;
                if count >= degree {
                    out[..list.len()].copy_from_slice(list);
                    return list.len();
                }
                choose_distinct(count as usize, out, rng, |rng| {
                    list[rng.below(degree) as usize]
                })
            }
        }
    }
}

/// A graph's neighbour lists (compressed sparse rows, see [`Graph::Sparse`]), borrowed.
#[derive(Clone, Copy, Debug)]
pub struct Lists<'a> {
    offsets: &'a [u32],
    neighbors: &'a [u32],
}

impl<'a> Lists<'a> {
    /// Node `node`'s neighbours, sorted.
    #[inline(always)]
    pub fn of(&self, node: u32) -> &'a [u32] {
        let (start, end) = (self.offsets[node as usize], self.offsets[node as usize + 1]);
        &self.neighbors[start as usize..end as usize]
    }

    /// One neighbour of `node` from its list, uniformly at random (drawn only when there is a
    /// choice), or `None` if it has none: [`Graph::choose_peer`]'s rule for listed nodes.
    #[inline(always)]
    pub fn peer(&self, node: u32, rng: &mut GossipRng) -> Option<u32> {
        // One bounds check for both offsets and one for the neighbour (an index below the
        // degree is inside the list): a dense round reads a list for every message.
        let bounds = &self.offsets[node as usize..node as usize + 2];
        let (start, degree) = (bounds[0], bounds[1] - bounds[0]);
        if degree == 0 {
            return None;
        }
        let index = if degree > 1 { rng.below(degree) } else { 0 };
        self.neighbors.get((start + index) as usize).copied()
    }
}

/// A node of the complete graph of `n` nodes other than `node`, uniformly at random: how
/// [`Graph::choose_peers`] draws each peer there when it has a choice (`n` above 2). Public
/// for the engine's loops that draw one peer for many nodes with the graph known complete.
#[inline(always)]
pub fn other_node(n: u32, node: u32, rng: &mut GossipRng) -> u32 {
    // Skip the node itself: index `node..` maps one up.
    let index = rng.below(n - 1);
    index + u32::from(index >= node)
}

/// `take` distinct peers into `out`, each from `draw`, drawn again if already chosen (see
/// [`Graph::choose_peers`]); returns `take`. Whether a peer was chosen is found without a
/// branch per peer chosen before, since which of them would match is unpredictable; the usual
/// fanouts are constants here, so those loops unroll and a round pays little per peer.
#[inline(always)]
fn choose_distinct(
    take: usize,
    out: &mut [u32],
    rng: &mut GossipRng,
    draw: impl Fn(&mut GossipRng) -> u32,
) -> usize {
    #[inline(always)]
    fn distinct(
        take: usize,
        out: &mut [u32],
        rng: &mut GossipRng,
        draw: impl Fn(&mut GossipRng) -> u32,
    ) {
        let out = &mut out[..take];
        for k in 0..take {
            let mut peer = draw(rng);
            while out[..k].iter().fold(false, |seen, &p| seen | (p == peer)) {
                peer = draw(rng);
            }
            out[k] = peer;
        }
    }
    // Natively only: in the page (wasm32) the usual fanouts are not worth their code (see
    // `Graph::choose_many`).
    const UNROLL: bool = !cfg!(target_arch = "wasm32");
    match take {
        1 => out[0] = draw(rng),
        2 if UNROLL => distinct(2, out, rng, draw),
        3 if UNROLL => distinct(3, out, rng, draw),
        4 if UNROLL => distinct(4, out, rng, draw),
        _ => distinct(take, out, rng, draw),
    }
    take
}

#[cfg(test)]
mod tests {
    use super::*;

    fn degrees(g: &Graph) -> Vec<u32> {
        (0..g.len()).map(|i| g.degree(i)).collect()
    }

    #[test]
    fn ring_and_square_torus_are_regular() {
        let ring = Graph::build(Topology::Ring, 10, 1).unwrap();
        assert!(degrees(&ring).iter().all(|&d| d == 2));
        assert_eq!(ring.sparse_neighbors(0), &[1, 9]);
        let torus = Graph::build(Topology::Torus, 25, 1).unwrap();
        assert!(degrees(&torus).iter().all(|&d| d == 4));
        assert_eq!(torus.sparse_neighbors(0), &[1, 5, 20, 24]);
    }

    /// A lattice's computed neighbours are its lists', so every draw picks the same peer with
    /// or without them: the ring's and the torus's runs are unchanged (issue 22).
    #[test]
    fn a_lattice_computes_the_neighbours_its_lists_hold() {
        let sizes = (3..40).chain([99, 100, 101, 1000, 1024]);
        for (topology, n) in sizes.flat_map(|n| [(Topology::Ring, n), (Topology::Torus, n)]) {
            let Ok(graph) = Graph::build(topology, n, 1) else {
                continue;
            };
            let Graph::Sparse { lattice, .. } = &graph else {
                panic!("{topology:?} is sparse");
            };
            let lattice = lattice.expect("every ring and torus built here has inner nodes");
            let mut listed = graph.clone();
            if let Graph::Sparse { lattice, .. } = &mut listed {
                *lattice = None;
            }
            let mut inner = 0;
            for node in 0..n {
                if let Some(computed) = lattice.neighbors(node, &mut [0; 4]) {
                    assert_eq!(
                        computed,
                        graph.sparse_neighbors(node),
                        "{topology:?} n {n} node {node}"
                    );
                    inner += 1;
                }
                let (mut a, mut b) = (
                    GossipRng::from_seed_u64(u64::from(node)),
                    GossipRng::from_seed_u64(u64::from(node)),
                );
                for count in 1..=4 {
                    let (mut x, mut y) = ([0; 4], [0; 4]);
                    let (k, l) = (
                        graph.choose_peers(node, count, &mut a, &mut x),
                        listed.choose_peers(node, count, &mut b, &mut y),
                    );
                    assert_eq!(
                        x[..k],
                        y[..l],
                        "{topology:?} n {n} node {node} count {count}"
                    );
                }
            }
            let reach = if topology == Topology::Ring {
                1
            } else {
                Topology::torus_width(n)
            };
            assert_eq!(inner, n - 2 * reach, "{topology:?} n {n}");
        }
    }

    #[test]
    fn random_regular_has_degree_four_but_for_rare_repeats() {
        let g = Graph::build(Topology::Regular, 10_000, 9).unwrap();
        let d = degrees(&g);
        assert!(d.iter().all(|x| (2..=4).contains(x)));
        assert!(d.iter().filter(|&&x| x == 4).count() > 9_990);
    }

    #[test]
    fn scale_free_has_hubs_and_mean_degree_four() {
        let g = Graph::build(Topology::ScaleFree, 20_000, 5).unwrap();
        let d = degrees(&g);
        let mean = d.iter().map(|&x| f64::from(x)).sum::<f64>() / d.len() as f64;
        assert!((3.9..4.01).contains(&mean), "{mean}");
        assert!(
            *d.iter().max().unwrap() > 100,
            "a BA graph this size has hubs"
        );
        assert!(d.iter().all(|&x| x >= 2));
    }

    #[test]
    fn small_world_keeps_the_lattice_mostly() {
        let g = Graph::build(Topology::SmallWorld, 1_000, 2).unwrap();
        let lattice = (0..1_000u32)
            .filter(|&i| g.sparse_neighbors(i).contains(&((i + 1) % 1_000)))
            .count();
        assert!((800..990).contains(&lattice), "{lattice}");
    }

    #[test]
    fn choose_peers_is_distinct_and_never_self() {
        let g = Graph::Complete { n: 5 };
        let mut rng = GossipRng::from_seed_u64(1);
        let mut out = [0; 16];
        for _ in 0..1_000 {
            let k = g.choose_peers(2, 3, &mut rng, &mut out);
            assert_eq!(k, 3);
            assert!(!out[..3].contains(&2));
            assert!(out[0] != out[1] && out[1] != out[2] && out[0] != out[2]);
        }
        assert_eq!(g.choose_peers(2, 9, &mut rng, &mut out), 4);
        assert_eq!(&out[..4], &[0, 1, 3, 4]);
    }

    #[test]
    fn a_listed_node_draws_among_its_neighbours_only_when_it_has_a_choice() {
        // Node 0 alone, node 1 with one neighbour (2), node 3 with three (2, 4, 5).
        let g = Graph::from_edges(6, &[(1, 2), (3, 2), (3, 4), (3, 5)]);
        let lists = g.lists().unwrap();
        let mut rng = GossipRng::from_seed_u64(3);
        let untouched = rng.clone();
        assert_eq!(lists.peer(0, &mut rng), None);
        assert_eq!(lists.peer(1, &mut rng), Some(2));
        let state = |r: &GossipRng| alloc::format!("{r:?}");
        assert_eq!(state(&rng), state(&untouched), "no choice, no draw");
        let mut seen = [0u32; 6];
        for _ in 0..600 {
            let mut again = rng.clone();
            let peer = lists.peer(3, &mut rng).unwrap();
            assert_eq!(g.choose_peer(3, &mut again), Some(peer));
            assert_eq!(state(&again), state(&rng));
            seen[peer as usize] += 1;
        }
        assert_eq!(seen[..2], [0, 0]);
        assert!(
            [2, 4, 5].iter().all(|&p| seen[p] > 150),
            "uniform among 2, 4 and 5: {seen:?}"
        );
        assert_eq!(seen[3], 0);
        assert!(Graph::Complete { n: 4 }.lists().is_none());
    }

    #[test]
    fn too_small_topologies_are_refused() {
        assert!(Graph::build(Topology::Torus, 8, 0).is_err());
        assert!(Graph::build(Topology::Complete, 1, 0).is_err());
        assert!(Graph::build(Topology::ScaleFree, 4, 0).is_ok());
    }
}
