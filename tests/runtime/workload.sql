-- A non-trivial SQLite workload: tables, indexes, joins, printf(), a few
-- thousand rows.  Its output must be identical protected and unprotected.
PRAGMA foreign_keys = ON;
CREATE TABLE customer (id INTEGER PRIMARY KEY, name TEXT NOT NULL, city TEXT);
CREATE TABLE product (id INTEGER PRIMARY KEY, title TEXT, price REAL);
CREATE TABLE orders (id INTEGER PRIMARY KEY, customer INTEGER REFERENCES customer(id),
                     product INTEGER REFERENCES product(id), qty INTEGER, note TEXT);
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 500)
INSERT INTO customer SELECT i, printf('customer-%04d', i), printf('city-%d', i % 17) FROM n;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 200)
INSERT INTO product SELECT i, printf('product %c%03d', char(65 + i % 26), i), round(i * 1.37 + 0.5, 2) FROM n;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 5000)
INSERT INTO orders SELECT i, 1 + (i * 7919) % 500, 1 + (i * 104729) % 200, 1 + i % 9,
                          printf('%-8s|%5.1f|%x', 'n' || i, i / 3.0, i * 31) FROM n;
CREATE INDEX orders_by_customer ON orders(customer);
CREATE INDEX orders_by_product ON orders(product, qty);
CREATE UNIQUE INDEX customer_by_name ON customer(name);
SELECT count(*), sum(qty), printf('%.2f', avg(qty)) FROM orders;
SELECT c.city, count(*) AS n, printf('%.2f', sum(o.qty * p.price)) AS revenue
  FROM orders o JOIN customer c ON c.id = o.customer JOIN product p ON p.id = o.product
  GROUP BY c.city ORDER BY revenue DESC, c.city LIMIT 10;
SELECT p.title, count(o.id) FROM product p LEFT JOIN orders o ON o.product = p.id
  GROUP BY p.id HAVING count(o.id) > 25 ORDER BY 2 DESC, 1 LIMIT 15;
UPDATE orders SET note = upper(note) WHERE qty > 7;
DELETE FROM orders WHERE id % 13 = 0;
SELECT count(*), max(length(note)), group_concat(DISTINCT substr(note, 1, 2)) FROM orders WHERE qty = 8;
SELECT name FROM customer WHERE name LIKE 'customer-04%' ORDER BY name DESC LIMIT 5;
WITH ranked AS (SELECT customer, sum(qty) AS total,
                       rank() OVER (ORDER BY sum(qty) DESC) AS r FROM orders GROUP BY customer)
SELECT c.name, total, r FROM ranked JOIN customer c ON c.id = ranked.customer WHERE r <= 5 ORDER BY r, c.name;
SELECT printf('%s has %d orders worth %.3f', c.name, count(*), sum(p.price * o.qty))
  FROM customer c JOIN orders o ON o.customer = c.id JOIN product p ON p.id = o.product
  WHERE c.id IN (3, 141, 499) GROUP BY c.id ORDER BY c.id;
BEGIN;
INSERT INTO product VALUES (1000, 'rolled back', 1.0);
ROLLBACK;
SELECT count(*) FROM product WHERE id = 1000;
PRAGMA integrity_check;
