//! The parts of the `fold` command line beyond serving: the pid file and `fold stop`,
//! `fold doctor`, and the operator's user commands.
pub mod doctor;
pub mod pidfile;
pub mod users;
