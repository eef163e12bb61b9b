//! The lessons (the learn part only): the chapters as data ([`chapters`]), what a lesson
//! measures, read from the core ([`measure`]), and what a browser keeps of a student's
//! progress ([`progress`]). The page is [`crate::pages::learn`].

pub mod chapters;
pub mod measure;
pub mod progress;
