//! Grapevine page.
