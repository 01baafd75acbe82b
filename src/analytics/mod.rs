//! Analytics: segmentation, association rules, prediction, customer lifetime value and
//! recommendations. Input is a feature matrix or baskets from `data`; output is plain,
//! serialisable result structs. Nothing here knows about a terminal.
//!
//! The algorithms arrive with their issues (Segmentation, Association rules, Prediction,
//! CLV, Recommendations); this module is their home.
