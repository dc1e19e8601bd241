"""The deployment pipeline as small stages (onnx -> precision -> engine -> verify -> triton).

Each stage is a function from an input file to an output file; this folder ships as kitpose.export.
"""
