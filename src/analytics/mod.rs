//! Analytics: segmentation, association rules, prediction, customer lifetime value and
//! recommendations. Input is a feature matrix or baskets from `data`; output is plain,
//! serialisable result structs. Every long algorithm takes a [`crate::progress::Progress`]
//! to report to and to be cancelled through. Nothing here knows about a terminal.

pub mod clv;
pub mod dbscan;
pub mod error;
pub mod evaluation;
pub mod forest;
pub mod gbdt;
pub mod gmm;
pub mod itemsets;
pub mod kernel;
pub mod kmeans;
pub mod limits;
pub mod logistic;
pub mod metrics;
pub mod mlp;
pub mod pca;
pub mod predict;
pub mod profile;
pub mod recommend;
pub mod regress;
pub mod rules;
pub mod segment;
pub mod svm;
pub mod sweep;
pub mod tree;

pub use error::AnalyticsError;

/// Runs `f` on a rayon pool of `threads` threads (tests: same result on any thread count).
#[cfg(test)]
pub(crate) fn on_threads<T: Send>(threads: usize, f: impl FnOnce() -> T + Send) -> T {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("a thread pool")
        .install(f)
}
