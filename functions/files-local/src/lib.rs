//! Local file storage (being written).
