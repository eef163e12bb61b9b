//! Grapevine's page: the in-browser gossip playground, a Yew app over `grapevine-core`.
//!
//! This file is the table of contents only: nothing in the crate imports from it (so no file
//! is in an import cycle through it). The round view's binary starts at [`start_on`]
//! ([`app`]); the lab and live mode are parts ([`part`]).

pub mod app;
pub mod batch;
pub mod batch_panel;
pub mod browser;
pub mod charts;
pub mod controls;
pub mod draw;
pub mod explain;
pub mod lab;
pub mod learn;
pub mod live;
pub mod pages;
pub mod palette;
pub mod params;
pub mod part;
pub mod sim;
pub mod stats;

pub use app::start_on;
pub use browser::{install_panic_banner, random_u64, show_error_banner};
