"""Product tooling that is not part of the installed package: the render validation gate and its schemas."""
