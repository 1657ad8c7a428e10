"""The answer step: a question read (with its follow-ups), the sentences of the retrieved
passages scored, the answer assembled and cited, or refused."""
