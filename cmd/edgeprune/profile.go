package main

import (
	"github.com/edgeprune/edgeprune/profile"
	"github.com/spf13/cobra"
)

func newProfileCmd(c *cli) *cobra.Command {
	group := &cobra.Command{
		Use:   "profile",
		Short: "Show or check device profiles (configs/*.yaml)",
		Long: `A device profile (schema edgeprune/profile/v1) states the target device, how
latency is measured on it, the budgets a model must meet there, and the cost
model's calibration. See configs/ for sourced examples and docs/profiles.md.`,
	}
	var asJSON bool
	show := &cobra.Command{
		Use:   "show PROFILE.yaml",
		Short: "Print a profile with its derived numbers (peak, bandwidth, budgets in bytes)",
		Args:  exactArgs(1, "PROFILE.yaml"),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := profile.Load(args[0])
			if err != nil {
				return err
			}
			if asJSON {
				return writeJSON(c.stdout, struct {
					*profile.Profile
					Derived profile.Derived `json:"derived"`
				}{p, p.Derive()})
			}
			return p.Show(c.stdout)
		},
	}
	show.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	check := &cobra.Command{
		Use:   "check PROFILE.yaml...",
		Short: "Validate profiles: every problem with its file, line and field",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var failed error
			for _, f := range args {
				if _, err := profile.Load(f); err != nil {
					c.stderr.Write([]byte(err.Error() + "\n"))
					failed = err
					continue
				}
				c.stdout.Write([]byte(f + ": ok\n"))
			}
			if failed != nil {
				return errProfilesInvalid
			}
			return nil
		},
	}
	group.AddCommand(show, check)
	requireSubcommand(group)
	return group
}

type profileError struct{}

func (profileError) Error() string { return "invalid profile(s): see above" }

var errProfilesInvalid error = profileError{}
