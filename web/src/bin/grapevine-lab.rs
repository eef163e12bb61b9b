//! The protocol lab, a part of the page loaded the first time it is opened (see
//! `grapevine_web::part`): SWIM, push-sum, the key-value map and rumors over the simulated
//! network.

fn main() {
    grapevine_web::part::register::<grapevine_web::pages::lab::LabPage>(
        grapevine_web::params::View::Lab,
    );
}
