//! Dynamic namespaces (Node's parent namespaces, `io.of(/regex/)` and
//! `io.of((name, auth, next) => ...)`).
//!
//! A parent is a matcher (a regex, or a predicate over the name and the
//! CONNECT's `auth`, synchronous or async as Node's `(name, auth, next)`)
//! with the handlers of an ordinary [`NamespaceBuilder`]. An async
//! predicate delays only that CONNECT (the shard runs it as a task, see
//! `shard::sio`); parents after it are tried once it answered, in order.
//! A CONNECT to a name that is no static namespace and no existing child is
//! offered to the parents in registration order; the first that matches
//! creates the child, which then is a namespace of its own: its name is
//! `socket.nsp()`, its rooms and broadcasts are its own, and every later
//! CONNECT to it finds it without asking the matcher again (as in Node).
//! The child runs its parent's middleware and handlers (shared, not copied).
//!
//! Invariant: namespace indices are process-wide and stable. The statics
//! are `0..statics`; child `i` (in creation order) is `statics + i`, for
//! every shard and the cluster bridge alike, because the registry below is
//! one per process (in the `Arc`'d application) and append-only: a child is
//! never removed, so an index in a message between shards (`ToShard`) or to
//! the bridge (`ToCluster`) names the same namespace everywhere. The slots
//! are allocated up front (their number is the limit), so reading a child's
//! name takes no lock ([`OnceLock`]); only creating one, and looking one up
//! by name on a CONNECT, takes the registry's mutex.
//!
//! Memory: names come from the network, so the number of children is
//! bounded ([`super::Builder::max_dynamic_namespaces`]); past it a CONNECT
//! matching a parent is refused as `Invalid namespace`, as an unknown name.

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use ahash::AHashMap;
use serde_json::Value;

use super::namespace::NamespaceBuilder;
use crate::shard::app::LocalFuture;

/// Predicate of a parent namespace: the namespace name and the CONNECT's
/// `auth` (an object, `{}` when the client sent none).
pub type NamespacePredicate = dyn Fn(&str, &Value) -> bool + Send + Sync;

/// Async predicate of a parent namespace (Node's `(name, auth, next)` that
/// calls `next` later): the name and `auth`, answered by a future run on
/// the shard of the connecting session.
pub type AsyncNamespacePredicate = dyn Fn(String, Value) -> LocalFuture<bool> + Send + Sync;

/// What names a parent namespace accepts.
#[derive(Clone)]
pub enum NamespaceMatcher {
    /// Names the regex matches (anchor it: `^/dyn-\d+$`).
    Regex(regex::Regex),
    /// Names the predicate accepts, with a label naming the parent
    /// ([`super::of_parent`]).
    Predicate(String, Arc<NamespacePredicate>),
    /// Names the async predicate accepts, with a label naming the parent.
    AsyncPredicate(String, Arc<AsyncNamespacePredicate>),
}

impl std::fmt::Debug for NamespaceMatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Regex(r) => write!(f, "Regex({})", r.as_str()),
            Self::Predicate(label, _) => write!(f, "Predicate({label})"),
            Self::AsyncPredicate(label, _) => write!(f, "AsyncPredicate({label})"),
        }
    }
}

impl NamespaceMatcher {
    /// A matcher from a regex pattern (the `regex` crate's syntax).
    pub fn regex(pattern: &str) -> Result<Self, regex::Error> {
        regex::Regex::new(pattern).map(Self::Regex)
    }

    /// A matcher from a predicate over the name and the `auth` payload;
    /// `label` names the parent for [`super::of_parent`].
    pub fn predicate(
        label: &str,
        f: impl Fn(&str, &Value) -> bool + Send + Sync + 'static,
    ) -> Self {
        Self::Predicate(label.to_owned(), Arc::new(f))
    }

    /// A matcher from an async predicate (a lookup): the CONNECT waits for
    /// its answer, other sockets do not. `label` names the parent.
    pub fn predicate_async<F>(
        label: &str,
        f: impl Fn(String, Value) -> F + Send + Sync + 'static,
    ) -> Self
    where
        F: Future<Output = bool> + 'static,
    {
        Self::AsyncPredicate(label.to_owned(), Arc::new(move |n, a| Box::pin(f(n, a))))
    }

    /// The parent's label: the regex's pattern, or the predicate's label.
    pub fn label(&self) -> &str {
        match self {
            Self::Regex(r) => r.as_str(),
            Self::Predicate(label, _) | Self::AsyncPredicate(label, _) => label,
        }
    }

    /// Whether `name` matches now; None for an async predicate (its future
    /// decides, [`Self::matches_later`]).
    pub(super) fn matches_now(&self, name: &str, auth: &Value) -> Option<bool> {
        match self {
            Self::Regex(r) => Some(r.is_match(name)),
            Self::Predicate(_, f) => Some(f(name, auth)),
            Self::AsyncPredicate(..) => None,
        }
    }

    /// Whether `name` matches, awaiting an async predicate.
    pub(super) async fn matches_later(&self, name: &str, auth: &Value) -> bool {
        match self {
            Self::AsyncPredicate(_, f) => f(name.to_owned(), auth.clone()).await,
            other => other.matches_now(name, auth).unwrap_or(false),
        }
    }
}

impl From<regex::Regex> for NamespaceMatcher {
    fn from(r: regex::Regex) -> Self {
        Self::Regex(r)
    }
}

/// A parent namespace: its matcher and its handlers.
pub(super) struct Parent {
    pub(super) matcher: NamespaceMatcher,
    pub(super) ns: Arc<NamespaceBuilder>,
}

/// One child: its name and its parent's position.
struct Child {
    name: Box<str>,
    parent: usize,
}

/// The process-wide, append-only registry of children (see the module
/// docs for the index invariant).
pub(super) struct Children {
    /// Index of the first child (the number of static namespaces).
    base: u16,
    slots: Box<[OnceLock<Child>]>,
    /// Children created so far; slots `0..len` are set.
    len: AtomicUsize,
    by_name: Mutex<AHashMap<Box<str>, u16>>,
    warned: AtomicBool,
}

impl Children {
    /// A registry for at most `limit` children, indexed from `base`
    /// (clamped so that every index fits a `u16`).
    pub(super) fn new(base: u16, limit: usize) -> Self {
        let limit = limit.min(usize::from(u16::MAX - base));
        Self {
            base,
            slots: (0..limit).map(|_| OnceLock::new()).collect(),
            len: AtomicUsize::new(0),
            by_name: Mutex::new(AHashMap::new()),
            warned: AtomicBool::new(false),
        }
    }

    /// Children created so far.
    pub(super) fn len(&self) -> usize {
        self.len.load(Ordering::Acquire)
    }

    fn child(&self, idx: u16) -> Option<&Child> {
        let i = usize::from(idx.checked_sub(self.base)?);
        self.slots.get(i)?.get()
    }

    /// The name of child `idx`.
    pub(super) fn name(&self, idx: u16) -> Option<&str> {
        self.child(idx).map(|c| &*c.name)
    }

    /// The parent position of child `idx`.
    pub(super) fn parent(&self, idx: u16) -> Option<usize> {
        self.child(idx).map(|c| c.parent)
    }

    /// The index of child `name`, if it was created.
    pub(super) fn index(&self, name: &str) -> Option<u16> {
        // A poisoned lock only means a panic elsewhere while it was held;
        // the map itself is always consistent (one insert per critical section).
        let map = self.by_name.lock().unwrap_or_else(|e| e.into_inner());
        map.get(name).copied()
    }

    /// Registers child `name` of parent `parent` (its index if it already
    /// exists); None when the limit is reached.
    pub(super) fn register(&self, parent: usize, name: &str) -> Option<u16> {
        let mut map = self.by_name.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(&idx) = map.get(name) {
            // Created meanwhile (by another shard, or while a predicate ran).
            return Some(idx);
        }
        let i = self.len.load(Ordering::Acquire);
        let Some(slot) = self.slots.get(i) else {
            if !self.warned.swap(true, Ordering::Relaxed) {
                tracing::warn!(
                    limit = self.slots.len(),
                    "dynamic namespaces: limit reached, refusing new children as Invalid namespace"
                );
            }
            return None;
        };
        let child = Child {
            name: name.into(),
            parent,
        };
        // Slot `i` is unset: slots are only set under this lock, in order.
        if slot.set(child).is_err() {
            return None;
        }
        self.len.store(i + 1, Ordering::Release);
        // `i < slots.len() <= u16::MAX - base`: the sum fits, below u16::MAX.
        let idx = self.base + i as u16;
        map.insert(name.into(), idx);
        tracing::debug!(nsp = name, idx, "dynamic namespace created");
        Some(idx)
    }

    /// Indices of the children of parent `parent`, created so far.
    pub(super) fn of_parent(&self, parent: usize) -> Vec<u16> {
        (0..self.len())
            .filter(|&i| self.slots[i].get().is_some_and(|c| c.parent == parent))
            .map(|i| self.base + i as u16)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    impl Children {
        /// The synchronous part of `ServerApp::create_namespace`.
        fn create(&self, parents: &[Parent], name: &str, auth: &Value) -> Option<u16> {
            if let Some(idx) = self.index(name) {
                return Some(idx);
            }
            let p = parents
                .iter()
                .position(|p| p.matcher.matches_now(name, auth) == Some(true))?;
            self.register(p, name)
        }
    }

    fn parents() -> Vec<Parent> {
        vec![
            Parent {
                matcher: NamespaceMatcher::regex(r"^/dyn-\d+$").unwrap(),
                ns: Arc::new(NamespaceBuilder::default()),
            },
            Parent {
                matcher: NamespaceMatcher::predicate("tenants", |name, auth| {
                    name.starts_with("/t-") && auth["ok"] == true
                }),
                ns: Arc::new(NamespaceBuilder::default()),
            },
        ]
    }

    #[test]
    fn children_get_stable_indices_after_the_statics() {
        let c = Children::new(3, 8);
        let p = parents();
        let none = Value::Object(Default::default());
        assert_eq!(c.create(&p, "/dyn-1", &none), Some(3));
        assert_eq!(c.create(&p, "/dyn-2", &none), Some(4));
        assert_eq!(c.create(&p, "/dyn-1", &none), Some(3));
        assert_eq!(c.create(&p, "/dyn-x", &none), None);
        assert_eq!(c.create(&p, "/t-a", &none), None);
        assert_eq!(
            c.create(&p, "/t-a", &serde_json::json!({"ok": true})),
            Some(5)
        );
        assert_eq!(c.name(4), Some("/dyn-2"));
        assert_eq!(c.parent(5), Some(1));
        assert_eq!(c.name(2), None);
        assert_eq!(c.name(6), None);
        assert_eq!(c.of_parent(0), vec![3, 4]);
        assert_eq!(c.index("/t-a"), Some(5));
    }

    #[test]
    fn past_the_limit_new_children_are_refused() {
        let c = Children::new(1, 2);
        let p = parents();
        let none = Value::Object(Default::default());
        assert!(c.create(&p, "/dyn-1", &none).is_some());
        assert!(c.create(&p, "/dyn-2", &none).is_some());
        assert_eq!(c.create(&p, "/dyn-3", &none), None);
        assert_eq!(c.create(&p, "/dyn-1", &none), Some(1));
        assert_eq!(c.len(), 2);
    }
}
