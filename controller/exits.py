"""Exit codes: the simulation contract's (README, `simulate`), which the other commands share."""

EXIT_HOME = 0  # the table ended home with nothing latched
EXIT_INTERNAL = 1  # internal error (or, for simulate, a log that could not be written mid-run)
EXIT_REJECTED = 2  # the input was rejected before anything ran, with one clear message
EXIT_LATCHED = 3  # a stop or trip latched, the motor halted and holding (or start-up refused)
EXIT_NOT_HOME = 4  # the run ended with nothing latched and the table not yet home
EXIT_INTERRUPTED = 130  # Ctrl-C (128 + SIGINT)
# Every command: the reader of the output went away (`| head`). What a shell reports for a program
# a closed pipe ended (128 + SIGPIPE); the command ends quietly, as Unix tools do.
EXIT_CLOSED_PIPE = 141
