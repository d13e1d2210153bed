"""What each channel represents: feature-visualisation renders, the atlas directory and its
contact sheets, dataset-example crops, channel overlays and the static site."""
