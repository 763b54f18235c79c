-- The order a listed ticket was in when it was listed, and what that order
-- paid for it. Once the listing is sold, that face value has reached the
-- seller again through escrow: the order's refundable amount leaves it
-- out, or a later refund of the order would pay the seller twice. NULL for
-- listings made before this was kept.
ALTER TABLE listings ADD COLUMN seller_order_id TEXT;
ALTER TABLE listings ADD COLUMN seller_paid_amount BIGINT;
