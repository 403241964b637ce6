"""The risk lab: experiments run on the real core, recorded as replayable scenarios."""
