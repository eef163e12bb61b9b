//! The compare panel, a part of the page loaded the first time it is opened (see
//! `grapevine_web::part`): a setting on the x-axis, another as series, many runs a point in
//! the batch workers.

fn main() {
    grapevine_web::part::register::<grapevine_web::pages::compare::ComparePage>(
        grapevine_web::params::View::Compare,
    );
}
