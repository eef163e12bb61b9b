//! The lessons, a part of the page loaded the first time it is opened (see
//! `grapevine_web::part`): guided chapters that ask for a prediction, run the core, and compare.

fn main() {
    grapevine_web::part::register::<grapevine_web::pages::learn::LearnPage>(
        grapevine_web::params::View::Learn,
    );
}
