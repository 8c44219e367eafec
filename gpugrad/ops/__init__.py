"""The op library, one file per family. Each op is a ``Function`` subclass plus a lowercase
function that applies it; ``Tensor`` methods and the ``gg.`` namespace call the functions."""
