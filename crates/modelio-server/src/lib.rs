//! The model server behind `modelio serve`. Not implemented yet.
