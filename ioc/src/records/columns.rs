//! Typed columns of the twin's optics waveforms and of the orbit table:
//! names and units resolved once, no string matching when publishing.

/// A quantity along the ring (`TWIN:OPTICS:<col>`, `TWIN:BPM:<col>`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpticsColumn {
    S,
    X,
    Y,
    BetaX,
    BetaY,
    AlphaX,
    AlphaY,
    MuX,
    MuY,
    EtaX,
}

impl OpticsColumn {
    pub const ALL: [OpticsColumn; 10] = [
        OpticsColumn::S,
        OpticsColumn::X,
        OpticsColumn::Y,
        OpticsColumn::BetaX,
        OpticsColumn::BetaY,
        OpticsColumn::AlphaX,
        OpticsColumn::AlphaY,
        OpticsColumn::MuX,
        OpticsColumn::MuY,
        OpticsColumn::EtaX,
    ];

    pub fn suffix(self) -> &'static str {
        match self {
            OpticsColumn::S => "S",
            OpticsColumn::X => "X",
            OpticsColumn::Y => "Y",
            OpticsColumn::BetaX => "BETAX",
            OpticsColumn::BetaY => "BETAY",
            OpticsColumn::AlphaX => "ALPHAX",
            OpticsColumn::AlphaY => "ALPHAY",
            OpticsColumn::MuX => "MUX",
            OpticsColumn::MuY => "MUY",
            OpticsColumn::EtaX => "ETAX",
        }
    }

    /// (description, EGU, PREC).
    pub fn meta(self) -> (&'static str, &'static str, u8) {
        match self {
            OpticsColumn::S => ("s position", "m", 4),
            OpticsColumn::X => ("closed orbit x", "m", 9),
            OpticsColumn::Y => ("closed orbit y", "m", 9),
            OpticsColumn::BetaX => ("beta x", "m", 4),
            OpticsColumn::BetaY => ("beta y", "m", 4),
            OpticsColumn::AlphaX => ("alpha x", "", 4),
            OpticsColumn::AlphaY => ("alpha y", "", 4),
            OpticsColumn::MuX => ("phase advance x", "rad", 5),
            OpticsColumn::MuY => ("phase advance y", "rad", 5),
            OpticsColumn::EtaX => ("dispersion x", "m", 5),
        }
    }
}

/// A column of the orbit NTTable (PVA), in the machine's order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TableColumn {
    Bpm,
    X,
    Y,
    A,
    B,
    C,
    D,
}

impl TableColumn {
    pub const ALL: [TableColumn; 7] = [
        TableColumn::Bpm,
        TableColumn::X,
        TableColumn::Y,
        TableColumn::A,
        TableColumn::B,
        TableColumn::C,
        TableColumn::D,
    ];
    /// The numeric columns after the names, in publishing order.
    pub const NUMBERS: [TableColumn; 6] =
        [TableColumn::X, TableColumn::Y, TableColumn::A, TableColumn::B, TableColumn::C, TableColumn::D];

    pub fn label(self) -> &'static str {
        match self {
            TableColumn::Bpm => "BPM",
            TableColumn::X => "X",
            TableColumn::Y => "Y",
            TableColumn::A => "A",
            TableColumn::B => "B",
            TableColumn::C => "C",
            TableColumn::D => "D",
        }
    }
}
