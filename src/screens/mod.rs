//! The workbench's screens (tabs), in tab-bar order.

pub mod clv;
pub mod data;
pub mod features;
pub mod predict;
pub mod quality;
pub mod recommend;
pub mod rules;
pub mod segments;

/// One tab of the workbench.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Screen {
    #[default]
    Data,
    Quality,
    Features,
    Segments,
    Rules,
    Predict,
    Clv,
    Recommend,
}

impl Screen {
    pub const ALL: [Screen; 8] = [
        Screen::Data,
        Screen::Quality,
        Screen::Features,
        Screen::Segments,
        Screen::Rules,
        Screen::Predict,
        Screen::Clv,
        Screen::Recommend,
    ];

    pub fn title(self) -> &'static str {
        match self {
            Screen::Data => "Data",
            Screen::Quality => "Quality",
            Screen::Features => "Features",
            Screen::Segments => "Segments",
            Screen::Rules => "Rules",
            Screen::Predict => "Predict",
            Screen::Clv => "CLV",
            Screen::Recommend => "Recommend",
        }
    }

    pub fn index(self) -> usize {
        Screen::ALL.iter().position(|s| *s == self).unwrap_or(0)
    }

    /// The screen for number key `n` (1-based).
    pub fn from_number(n: u32) -> Option<Screen> {
        Screen::ALL.get((n as usize).checked_sub(1)?).copied()
    }

    pub fn next(self) -> Screen {
        Screen::ALL[(self.index() + 1) % Screen::ALL.len()]
    }

    pub fn prev(self) -> Screen {
        Screen::ALL[(self.index() + Screen::ALL.len() - 1) % Screen::ALL.len()]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tabs_wrap_and_number_keys_map() {
        assert_eq!(Screen::Data.prev(), Screen::Recommend);
        assert_eq!(Screen::Recommend.next(), Screen::Data);
        assert_eq!(Screen::from_number(1), Some(Screen::Data));
        assert_eq!(Screen::from_number(7), Some(Screen::Clv));
        assert_eq!(Screen::from_number(8), Some(Screen::Recommend));
        assert_eq!(Screen::from_number(0), None);
        assert_eq!(Screen::from_number(9), None);
    }
}
