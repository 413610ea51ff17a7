//! Immediate dominators by Lengauer and Tarjan's algorithm (the simple version, with path compression), on a
//! graph of `u32` nodes given as its links: memory linear in nodes and links (a few `u32` each, where
//! petgraph's `simple_fast` keeps a hash set of predecessors per node), and near-linear time whatever the
//! graph's shape (`simple_fast` iterates until nothing changes, and each step may walk a long dominator
//! chain).

/// No node.
const NONE: u32 = u32::MAX;

/// A directed graph as compressed adjacency lists.
struct Csr {
    start: Vec<u32>,
    to: Vec<u32>,
}

impl Csr {
    /// From links `(from, to)` over `n` nodes; with `reverse`, the lists of each node's predecessors.
    fn new(n: usize, links: &[(u32, u32)], reverse: bool) -> Csr {
        let key = |&(a, b): &(u32, u32)| if reverse { (b, a) } else { (a, b) };
        let mut start = vec![0u32; n + 1];
        for l in links {
            start[key(l).0 as usize + 1] += 1;
        }
        for i in 0..n {
            start[i + 1] += start[i];
        }
        let mut fill = start[..n].to_vec();
        let mut to = vec![0u32; links.len()];
        for l in links {
            let (k, v) = key(l);
            to[fill[k as usize] as usize] = v;
            fill[k as usize] += 1;
        }
        Csr { start, to }
    }

    fn of(&self, v: u32) -> &[u32] {
        &self.to[self.start[v as usize] as usize..self.start[v as usize + 1] as usize]
    }
}

/// The immediate dominator of every node of `0..n` reachable from `root` over `links` (the root's is itself);
/// `u32::MAX` for the others.
pub(crate) fn immediate_dominators(n: usize, links: &[(u32, u32)], root: u32) -> Vec<u32> {
    let succ = Csr::new(n, links, false);
    let pred = Csr::new(n, links, true);
    let tree = Dfs::new(n, &succ, root);
    let idom = Semi::new(tree.vertex.len()).run(&tree, &pred);
    let mut out = vec![NONE; n];
    for (w, d) in idom.iter().enumerate() {
        out[tree.vertex[w] as usize] = tree.vertex[*d as usize];
    }
    out
}

/// A depth-first spanning tree, nodes numbered in preorder.
struct Dfs {
    /// Preorder number of each node, `NONE` when unreachable.
    num: Vec<u32>,
    /// Node of each number.
    vertex: Vec<u32>,
    /// Number of each number's parent (`NONE` for the root).
    parent: Vec<u32>,
}

impl Dfs {
    fn new(n: usize, succ: &Csr, root: u32) -> Dfs {
        let mut t = Dfs { num: vec![NONE; n], vertex: Vec::new(), parent: Vec::new() };
        t.visit(root, NONE);
        let mut stack: Vec<(u32, u32)> = vec![(root, succ.start[root as usize])];
        while let Some(top) = stack.last_mut() {
            let (v, next) = *top;
            if next == succ.start[v as usize + 1] {
                stack.pop();
                continue;
            }
            top.1 += 1;
            let w = succ.to[next as usize];
            if t.num[w as usize] == NONE {
                t.visit(w, t.num[v as usize]);
                stack.push((w, succ.start[w as usize]));
            }
        }
        t
    }

    fn visit(&mut self, v: u32, parent: u32) {
        self.num[v as usize] = self.vertex.len() as u32;
        self.vertex.push(v);
        self.parent.push(parent);
    }
}

/// Lengauer and Tarjan's state, over preorder numbers.
struct Semi {
    semi: Vec<u32>,
    label: Vec<u32>,
    ancestor: Vec<u32>,
    idom: Vec<u32>,
    /// Per number, the first node whose semidominator it is, and per node the next one (a linked bucket).
    bucket: Vec<u32>,
    next: Vec<u32>,
    stack: Vec<u32>,
}

impl Semi {
    fn new(m: usize) -> Semi {
        Semi {
            semi: (0..m as u32).collect(),
            label: (0..m as u32).collect(),
            ancestor: vec![NONE; m],
            idom: vec![NONE; m],
            bucket: vec![NONE; m],
            next: vec![NONE; m],
            stack: Vec::new(),
        }
    }

    /// Immediate dominators, by preorder number (the root's, number 0, is itself).
    fn run(mut self, tree: &Dfs, pred: &Csr) -> Vec<u32> {
        let m = tree.vertex.len();
        for w in (1..m).rev() {
            for p in pred.of(tree.vertex[w]) {
                let v = tree.num[*p as usize];
                if v == NONE {
                    continue;
                }
                let u = self.eval(v);
                if self.semi[u as usize] < self.semi[w] {
                    self.semi[w] = self.semi[u as usize];
                }
            }
            let s = self.semi[w] as usize;
            self.next[w] = self.bucket[s];
            self.bucket[s] = w as u32;
            let parent = tree.parent[w];
            self.ancestor[w] = parent;
            let mut v = std::mem::replace(&mut self.bucket[parent as usize], NONE);
            while v != NONE {
                let u = self.eval(v);
                self.idom[v as usize] = if self.semi[u as usize] < self.semi[v as usize] { u } else { parent };
                v = self.next[v as usize];
            }
        }
        for w in 1..m {
            if self.idom[w] != self.semi[w] {
                self.idom[w] = self.idom[self.idom[w] as usize];
            }
        }
        if m > 0 {
            self.idom[0] = 0;
        }
        self.idom
    }

    /// The node of least semidominator on the forest path up from `v`.
    fn eval(&mut self, v: u32) -> u32 {
        if self.ancestor[v as usize] == NONE {
            return v;
        }
        self.compress(v);
        self.label[v as usize]
    }

    /// Path compression, without recursion: each node on the path takes its ancestor's label when smaller
    /// and points to its ancestor's ancestor, from the top down.
    fn compress(&mut self, v: u32) {
        let mut x = v;
        while self.ancestor[self.ancestor[x as usize] as usize] != NONE {
            self.stack.push(x);
            x = self.ancestor[x as usize];
        }
        while let Some(y) = self.stack.pop() {
            let a = self.ancestor[y as usize] as usize;
            if self.semi[self.label[a] as usize] < self.semi[self.label[y as usize] as usize] {
                self.label[y as usize] = self.label[a];
            }
            self.ancestor[y as usize] = self.ancestor[a];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use petgraph::algo::dominators::simple_fast;
    use petgraph::graph::{DiGraph, NodeIndex};

    fn reference(n: usize, links: &[(u32, u32)], root: u32) -> Vec<u32> {
        let mut g: DiGraph<(), ()> = DiGraph::new();
        for _ in 0..n {
            g.add_node(());
        }
        for (a, b) in links {
            g.add_edge(NodeIndex::new(*a as usize), NodeIndex::new(*b as usize), ());
        }
        let d = simple_fast(&g, NodeIndex::new(root as usize));
        (0..n)
            .map(|v| {
                let v = NodeIndex::new(v);
                if v.index() == root as usize {
                    root
                } else {
                    d.immediate_dominator(v).map(|x| x.index() as u32).unwrap_or(NONE)
                }
            })
            .collect()
    }

    #[test]
    fn dominators_of_a_diamond_a_loop_and_an_unreachable_node() {
        // 0 → 1 → {2, 3} → 4 → 5 → 1 (a loop back), 4 → 6; 7 → 4 is unreachable from 0.
        let links = [(0, 1), (1, 2), (1, 3), (2, 4), (3, 4), (4, 5), (5, 1), (4, 6), (7, 4)];
        assert_eq!(immediate_dominators(8, &links, 0), vec![0, 0, 1, 1, 1, 4, 4, NONE]);
        // Without 1 → 3, 2 dominates 4 and what follows it.
        let links = [(0, 1), (1, 2), (2, 4), (3, 4), (4, 5), (5, 1), (4, 6)];
        assert_eq!(immediate_dominators(7, &links, 0), vec![0, 0, 1, NONE, 2, 4, 4]);
    }

    #[test]
    fn dominators_agree_with_petgraph_on_random_graphs() {
        // A small linear congruential generator: the graphs are the same on every run.
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = |m: u64| {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            ((seed >> 33) % m) as u32
        };
        for round in 0..300 {
            let n = 2 + round % 60;
            let links: Vec<(u32, u32)> = (0..n * 2)
                .map(|_| (next(n as u64), next(n as u64)))
                .chain((1..n as u32).map(|v| (v - 1, v)).take(round % 3))
                .collect();
            assert_eq!(immediate_dominators(n, &links, 0), reference(n, &links, 0), "round {round}: {links:?}");
        }
    }
}
