//! Models: [`Sequential`] (a stack of layers) and the functional [`Model`] (a graph of layer
//! calls on symbolic tensors from [`Input`]). Both are layers too, so models nest, and both
//! train through [`crate::trainers::Trainer`].

/// Keras's `model.save`, `save_weights`, `load_weights` and the safetensors export, the same
/// for both model types (each keeps its compile state in a `compiled` mutex): see
/// [`crate::saving`].
macro_rules! saving_methods {
    ($ty:ty) => {
        impl $ty {
            fn saving_state(&self) -> crate::saving::ModelState {
                let compiled = self.compiled.lock().unwrap_or_else(|p| p.into_inner());
                crate::saving::ModelState::capture(self, compiled.as_ref())
            }

            /// Saves the model as a `.keras` file (config, weights, compile state, optimizer state).
            ///
            /// # Errors
            /// For a path not ending in `.keras` or a failed write.
            pub fn save(&self, path: impl AsRef<std::path::Path>) -> Result<()> {
                self.saving_state().save(path)
            }

            /// Saves the weights (and optimizer variables) as a Keras `.weights.h5` file.
            ///
            /// # Errors
            /// For a path not ending in `.weights.h5` or a failed write.
            pub fn save_weights(&self, path: impl AsRef<std::path::Path>) -> Result<()> {
                self.saving_state().save_weights(path)
            }

            /// Loads a `.weights.h5` file written by keras-rs or Keras for the same architecture.
            ///
            /// # Errors
            /// When the file is unreadable or does not match; nothing is assigned then.
            pub fn load_weights(&mut self, path: impl AsRef<std::path::Path>) -> Result<()> {
                crate::saving::load_weights(self, path)
            }

            /// Writes every weight to a `.safetensors` file keyed by layer name and variable name.
            ///
            /// # Errors
            /// When the file cannot be written.
            pub fn export_safetensors(&self, path: impl AsRef<std::path::Path>) -> Result<()> {
                self.saving_state().export_safetensors(path)
            }
        }
    };
}
pub(crate) use saving_methods;

mod functional;
mod fusion;
mod sequential;
mod summary;

pub use functional::{Apply, Input, KerasTensor, LayerRef, Model};
pub use sequential::Sequential;
