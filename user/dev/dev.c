/* Generic device entry points. */
#include "sluice/dev.h"
#include <string.h>

void sl_dev_counts(struct sl_dev *d, struct sl_dev_counts *c)
{
	memset(c, 0, sizeof(*c));
	d->ops->counts(d, c);
}

void sl_dev_close(struct sl_dev *d)
{
	if (d)
		d->ops->close(d, NULL);
}

void sl_dev_close_counted(struct sl_dev *d, struct sl_dev_counts *final)
{
	memset(final, 0, sizeof(*final));
	d->ops->close(d, final);
}

int sl_dev_fd(struct sl_dev *d)
{
	return d->ops->fd ? d->ops->fd(d) : -1;
}

int sl_dev_health(struct sl_dev *d)
{
	return d->ops->health ? d->ops->health(d) : 0;
}
