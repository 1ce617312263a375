"""The report of a run: every paper claim with our estimate, its CI and a verdict, the papers'
tables beside ours, figures and audio, written as Markdown and self-contained HTML."""
from slmlib.report.claims import VERDICTS, Claim, all_claims, findings
from slmlib.report.document import (Report, Section, reference_structure, show_audio, show_section,
                                    structure, structure_differences, verdict_counts, write_report)
from slmlib.report.results import MissingResults, RunResults

__all__ = ["VERDICTS", "Claim", "MissingResults", "Report", "RunResults", "Section", "all_claims", "findings",
           "reference_structure", "show_audio", "show_section", "structure", "structure_differences",
           "verdict_counts", "write_report"]
