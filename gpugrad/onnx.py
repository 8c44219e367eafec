"""``gpugrad.onnx`` does not exist: importing it raises ImportError saying so (PyTorch
scripts that export to ONNX fail here, clearly, rather than later)."""
raise ImportError("gpugrad has no ONNX export: save the weights with "
                  "gg.save(model.state_dict(), path) (a safetensors file, which PyTorch can "
                  "load) and export from PyTorch")
