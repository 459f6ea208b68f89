//! Masked peer addresses: `student-01`, `student-02`… in the order the server first heard
//! from each IP address, so a projector never shows where students connect from.
//!
//! Every address is numbered as it arrives, masked or not, so the numbers stay the same when
//! masking is switched on halfway through a class (`/presenter`).

use std::collections::HashMap;
use std::net::IpAddr;

/// Addresses numbered at most: a flood of spoofed UDP sources must not grow the table
/// without bound. Later ones show as `student-?`.
pub const MAX_NUMBERED: usize = 10_000;

/// The number given to each peer IP address.
#[derive(Debug, Clone, Default)]
pub struct AddressBook {
    numbers: HashMap<IpAddr, usize>,
}

impl AddressBook {
    /// Gives `ip` the next number, unless it has one or the book is full.
    pub fn note(&mut self, ip: IpAddr) {
        let next = self.numbers.len() + 1;
        if self.numbers.len() < MAX_NUMBERED {
            self.numbers.entry(ip).or_insert(next);
        }
    }

    /// `student-01` for the first address noted, and so on.
    pub fn label(&self, ip: IpAddr) -> String {
        match self.numbers.get(&ip) {
            Some(n) => format!("student-{n:02}"),
            None => "student-?".to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_follow_first_arrival_and_never_change() {
        let mut book = AddressBook::default();
        let (a, b): (IpAddr, IpAddr) = ("10.0.0.9".parse().unwrap(), "10.0.0.2".parse().unwrap());
        book.note(a);
        book.note(b);
        book.note(a);
        assert_eq!(book.label(a), "student-01");
        assert_eq!(book.label(b), "student-02");
        assert_eq!(book.label("10.0.0.3".parse().unwrap()), "student-?");
    }
}
