// Placeholder until this layer lands; replaced in the same change.
