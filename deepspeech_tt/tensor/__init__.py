"""Weight-matrix formats: dense, tensor train, CP, Tucker, low rank (one module each)."""
