"""What a user loads: the point model, the image sampler and its diffusers pipeline, and the
factories that build their networks from a config."""
