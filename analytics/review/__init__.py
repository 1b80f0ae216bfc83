"""The weekly reliability review: verdicts and the attention list, incidents, attribution, deploy markers."""
