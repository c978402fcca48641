//! Reading original PyTorch checkpoints (zip and legacy pickle) into safetensors.
