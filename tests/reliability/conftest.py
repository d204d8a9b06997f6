"""The reliability drills: each test is one way a hostile or careless user broke the toolkit.

Every test here stands for one drill of the reliability issue (a hostile or damaged checkpoint,
an interrupted run, a bad config value, a bad corpus or audio file) and asserts the behaviour
the README promises instead: one clear line, nothing lost, nothing wrong printed as a result.
"""
