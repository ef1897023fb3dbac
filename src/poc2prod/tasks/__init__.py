"""What a task family adds to the shared gates: for intents, answer templates and similar questions."""

from poc2prod.tasks._intents import QuestionIndex, load_answers

__all__ = ["QuestionIndex", "load_answers"]
