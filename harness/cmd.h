/* The cnnbench subcommands; each takes the arguments after its name and returns the exit status. */
#ifndef CNB_HARNESS_CMD_H
#define CNB_HARNESS_CMD_H

int cnb_cmd_run(int argc, char **argv);
int cnb_cmd_impls(int argc, char **argv);
int cnb_cmd_list(int argc, char **argv);
int cnb_cmd_bench(int argc, char **argv);    /* harness/cmd_bench.c */
int cnb_cmd_compare(int argc, char **argv);  /* harness/cmd_compare.c */
int cnb_cmd_info(int argc, char **argv);     /* harness/cmd_info.c */
int cnb_cmd_report(int argc, char **argv);   /* harness/cmd_report.c */
int cnb_cmd_tune(int argc, char **argv);     /* harness/cmd_tune.c */
int cnb_cmd_fuzz(int argc, char **argv);     /* harness/cmd_fuzz.c */

#endif /* CNB_HARNESS_CMD_H */
