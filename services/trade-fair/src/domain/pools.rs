//! Booth pools: each booth type's capacity split into the general pool and two reserves
//! (预留): one for small firms, one for invited A-class firms until the window closes. A
//! firm draws from the reserves it may use first, so the general pool stays for everyone.

/// Booths in each pool of one booth type.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Pools {
    pub general: u32,
    pub small: u32,
    pub a_class: u32,
}

/// Which reserves a firm may draw on.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Access {
    /// A small (or micro) firm by the census size class.
    pub small: bool,
    /// Class A and invited to this fair.
    pub invited_a: bool,
}

impl Pools {
    /// The pools of `capacity` booths with the reserves' shares in percent, rounded down
    /// (a reserve never takes a booth it is not entitled to; the remainder is general).
    pub fn split(capacity: u32, small_percent: u32, a_class_percent: u32) -> Self {
        let share = |p: u32| (u64::from(capacity) * u64::from(p.min(100)) / 100) as u32;
        let small = share(small_percent);
        let a_class = share(a_class_percent).min(capacity - small);
        Self {
            general: capacity - small - a_class,
            small,
            a_class,
        }
    }

    pub fn total(&self) -> u32 {
        self.general + self.small + self.a_class
    }

    /// Every reserve handed to the general pool (when the window closes).
    pub fn released(self) -> Self {
        Self {
            general: self.total(),
            small: 0,
            a_class: 0,
        }
    }

    /// Booths `access` may draw on.
    pub fn open_to(&self, access: Access) -> u32 {
        self.general
            + if access.small { self.small } else { 0 }
            + if access.invited_a { self.a_class } else { 0 }
    }

    /// What is left after `used` was taken from each pool (never below zero).
    pub fn minus(&self, used: Draw) -> Self {
        Self {
            general: self.general.saturating_sub(used.general),
            small: self.small.saturating_sub(used.small),
            a_class: self.a_class.saturating_sub(used.a_class),
        }
    }

    /// One booth for `access`, from the first non-empty pool it may use (the A-class reserve,
    /// then the small-firm reserve, then the general pool); `None` when none has any left.
    pub fn take_one(&mut self, access: Access) -> Option<Pool> {
        if access.invited_a && self.a_class > 0 {
            self.a_class -= 1;
            Some(Pool::AClass)
        } else if access.small && self.small > 0 {
            self.small -= 1;
            Some(Pool::Small)
        } else if self.general > 0 {
            self.general -= 1;
            Some(Pool::General)
        } else {
            None
        }
    }

    /// A first-come draw of `booths` for `access`: all of them or nothing.
    pub fn draw(&self, access: Access, booths: u32) -> Option<Draw> {
        if booths == 0 || self.open_to(access) < booths {
            return None;
        }
        let mut left = *self;
        let mut draw = Draw::default();
        for _ in 0..booths {
            draw.add(left.take_one(access)?);
        }
        Some(draw)
    }
}

/// One of the pools.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Pool {
    General,
    Small,
    AClass,
}

/// Booths taken from each pool.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Draw {
    pub general: u32,
    pub small: u32,
    pub a_class: u32,
}

impl Draw {
    pub fn total(&self) -> u32 {
        self.general + self.small + self.a_class
    }

    pub fn add(&mut self, pool: Pool) {
        match pool {
            Pool::General => self.general += 1,
            Pool::Small => self.small += 1,
            Pool::AClass => self.a_class += 1,
        }
    }

    /// What is left of `self` once `other` is given back (never below zero).
    pub fn minus(self, other: Draw) -> Draw {
        Draw {
            general: self.general.saturating_sub(other.general),
            small: self.small.saturating_sub(other.small),
            a_class: self.a_class.saturating_sub(other.a_class),
        }
    }

    pub fn plus(self, other: Draw) -> Draw {
        Draw {
            general: self.general + other.general,
            small: self.small + other.small,
            a_class: self.a_class + other.a_class,
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn reserves_round_down_and_the_rest_is_general() {
        assert_eq!(
            Pools::split(30, 20, 10),
            Pools {
                general: 21,
                small: 6,
                a_class: 3
            }
        );
        assert_eq!(
            Pools::split(9, 20, 0),
            Pools {
                general: 8,
                small: 1,
                a_class: 0
            }
        );
        assert_eq!(
            Pools::split(4, 20, 20),
            Pools {
                general: 4,
                small: 0,
                a_class: 0
            }
        );
    }

    #[test]
    fn a_firm_uses_its_reserves_before_the_general_pool() {
        let pools = Pools {
            general: 2,
            small: 1,
            a_class: 1,
        };
        let both = Access {
            small: true,
            invited_a: true,
        };
        assert_eq!(
            pools.draw(both, 3),
            Some(Draw {
                general: 1,
                small: 1,
                a_class: 1
            })
        );
        let neither = Access::default();
        assert_eq!(
            pools.draw(neither, 3),
            None,
            "only the general pool is open to it"
        );
        assert_eq!(
            pools.draw(neither, 2),
            Some(Draw {
                general: 2,
                small: 0,
                a_class: 0
            })
        );
        assert_eq!(
            pools.released().draw(neither, 4).map(|d| d.total()),
            Some(4)
        );
    }

    proptest! {
        #[test]
        fn the_split_always_adds_up(capacity in 0u32..5000, small in 0u32..=100, a in 0u32..=100) {
            let pools = Pools::split(capacity, small, a.min(100 - small));
            prop_assert_eq!(pools.total(), capacity);
        }

        #[test]
        fn a_draw_never_takes_more_than_is_open(g in 0u32..20, s in 0u32..20, a in 0u32..20,
                                                small: bool, invited_a: bool, booths in 0u32..40) {
            let pools = Pools { general: g, small: s, a_class: a };
            let access = Access { small, invited_a };
            match pools.draw(access, booths) {
                Some(draw) => {
                    prop_assert_eq!(draw.total(), booths);
                    prop_assert!(draw.general <= g && draw.small <= s && draw.a_class <= a);
                    prop_assert!(small || draw.small == 0);
                    prop_assert!(invited_a || draw.a_class == 0);
                }
                None => prop_assert!(booths == 0 || pools.open_to(access) < booths),
            }
        }
    }
}
